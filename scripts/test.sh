#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install dependencies, build with
# -Werror, run every test through ctest, then rebuild with AddressSanitizer +
# UndefinedBehaviorSanitizer and run every test again.
#   scripts/test.sh              both passes
#   DSTACK_TEST_PASSES=plain     only the plain pass (asan: only the sanitizer pass)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"

jobs=$(nproc)
passes=${DSTACK_TEST_PASSES:-plain asan}
status=0

run_pass() {
    local name=$1; shift
    local dir="$root/build/$name"
    echo "==> [$name] configure + build"
    cmake -S "$root" -B "$dir" -DDSTACK_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "==> [$name] ctest"
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900) || status=1
}

for p in $passes; do
    case "$p" in
    # Release (-O3) is what users, the demo and the benchmarks build; -g keeps backtraces.
    plain) run_pass test -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g ;;
    asan) run_pass asan -DCMAKE_BUILD_TYPE=Debug -DDSTACK_SANITIZE=ON ;;
    *) echo "unknown pass $p" >&2; exit 2 ;;
    esac
done
exit $status
