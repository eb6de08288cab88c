#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install dependencies, then three
# passes, each building from scratch and running every test through ctest:
#   plain     Release build with -Werror (what users, the demo and the benchmarks build)
#   asan      Debug build with AddressSanitizer + UndefinedBehaviorSanitizer
#   debian13  the plain pass inside a Debian 13 chroot: OpenSSL 3.5, nginx 1.26, haproxy 3.0
# Each pass ends with a check that nothing it started is still running.
#   scripts/test.sh                          every pass
#   DSTACK_TEST_PASSES="plain asan" …        only those passes, in that order
#   DSTACK_BUILD_ROOT=DIR                    build trees under DIR (default: ./build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

passes=${DSTACK_TEST_PASSES:-plain asan debian13}
build_root=${DSTACK_BUILD_ROOT:-$root/build}
jobs=$(nproc)
status=0
summary=()

# Only the host passes need the host's packages; the chroot pass installs its own.
case " $passes " in *" plain "* | *" asan "*) "$root/scripts/install-deps.sh" ;; esac

run_pass() {
    local name=$1 dir=$2
    shift 2
    echo "==> [$name] configure + build"
    cmake -S "$root" -B "$dir" -DDSTACK_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "==> [$name] ctest"
    # The suite tag marks every process the tests start (environment, and the private
    # temporary directories run-test.sh creates), so the check below finds strays.
    local tag="dss$RANDOM$RANDOM" rc=0 left
    (cd "$dir" && DSTACK_SUITE_TAG=$tag ctest --output-on-failure -j"$jobs" --timeout 900) || rc=1
    if left=$("$root/tests/lib/leftover-processes.sh" --kill "$tag" "/tmp/$tag." "$dir/"); then
        echo "==> [$name] no process left behind"
    else
        echo "==> [$name] FAILED: processes started by the suite were still running (now killed):"
        echo "$left"
        rc=1
    fi
    return $rc
}

for p in $passes; do
    start=$SECONDS
    rc=0
    case "$p" in
    plain) run_pass plain "$build_root/test" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g || rc=1 ;;
    asan) run_pass asan "$build_root/asan" -DCMAKE_BUILD_TYPE=Debug -DDSTACK_SANITIZE=ON || rc=1 ;;
    # The chroot runs this script again, plain pass only, on the same checkout.
    debian13) "$root/scripts/debian13.sh" env DSTACK_TEST_PASSES=plain ./scripts/test.sh || rc=1 ;;
    *) echo "unknown pass $p (expected plain, asan, debian13)" >&2; exit 2 ;;
    esac
    [ "$rc" -eq 0 ] || status=1
    summary+=("$(printf '%-9s %s in %d s' "$p" "$([ "$rc" -eq 0 ] && echo passed || echo FAILED)" $((SECONDS - start)))")
done
echo "==> summary"
printf '    %s\n' "${summary[@]}"
exit $status
