#!/usr/bin/env bash
# What each shipped binary exports is exactly what it promises (architecture.md §10 item 5):
#  - the provider only OSSL_provider_init, the engine only its bind symbols (libdstack is linked
#    in statically and stays private to each module);
#  - libdstack.so exactly the functions its public headers declare (api.h): the compiler lists
#    the declarations (-aux-info), nm the exports, and both lists must be equal.
source "$(dirname "$0")/../lib/common.sh"
require nm
require "$DSTACK_CC"

symbols() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sort; }

assert_eq "provider exports" "OSSL_provider_init " "$(symbols "$DSTACK_PROVIDER_DIR/dstack.so" | tr '\n' ' ')"
assert_eq "engine exports" "bind_engine v_check " "$(symbols "$DSTACK_ENGINE_DIR/dstack.so" | tr '\n' ' ')"

work=$(mktemp -d)
for h in "$DSTACK_SOURCE_DIR"/include/dstack/*.h; do
    echo "#include <dstack/${h##*/}>"
done >"$work/all.c"
"$DSTACK_CC" -std=c11 -fsyntax-only -aux-info "$work/aux.txt" -I"$DSTACK_SOURCE_DIR/include" \
    "$work/all.c"
# Lines look like "/* …/include/dstack/keys.h:51:NC */ extern void dstack_keccak256 (…);":
# the first identifier before " (" is the function's name.
grep '/include/dstack/' "$work/aux.txt" | sed -E 's|^/\*[^*]*\*/ *||' |
    sed -E 's/^[^(]*[^a-zA-Z0-9_]([a-zA-Z_][a-zA-Z0-9_]*) \(.*/\1/' | sort -u >"$work/declared"
symbols "$DSTACK_BUILD_DIR/client/libdstack.so" | grep -vx '_init\|_fini' >"$work/exported"

undeclared=$(comm -13 "$work/declared" "$work/exported" | tr '\n' ' ')
unexported=$(comm -23 "$work/declared" "$work/exported" | tr '\n' ' ')
assert_eq "libdstack.so exports nothing its headers do not declare" "" "$undeclared"
assert_eq "libdstack.so exports every function its headers declare" "" "$unexported"
check "libdstack.so exports its API ($(wc -l <"$work/declared") functions)" \
    test "$(wc -l <"$work/declared")" -gt 100
rm -rf "$work"
finish
