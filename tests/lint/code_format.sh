#!/usr/bin/env bash
# Every C source and header of the project follows .clang-format (architecture.md §10 item 9).
source "$(dirname "$0")/../lib/common.sh"
require clang-format

cd "$DSTACK_SOURCE_DIR"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    mapfile -t files < <(find client include provider engine simulator tools tests examples bench \
        -name '*.c' -o -name '*.h')
fi
[ "${#files[@]}" -gt 50 ] || fail "found only ${#files[@]} C files — wrong source dir?"
for f in "${files[@]}"; do
    if out=$(clang-format --dry-run -Werror "$f" 2>&1); then
        pass
    else
        fail "$f is not clang-formatted: $(printf '%s\n' "$out" | head -3)"
    fi
done
finish
