#!/usr/bin/env bash
# The provider exports only OSSL_provider_init and the engine only its bind symbols
# (architecture.md §10 item 5): libdstack is linked in statically and must stay private to each module.
source "$(dirname "$0")/../lib/common.sh"
require nm

symbols() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sort | tr '\n' ' '; }

assert_eq "provider exports" "OSSL_provider_init " "$(symbols "$DSTACK_PROVIDER_DIR/dstack.so")"
assert_eq "engine exports" "bind_engine v_check " "$(symbols "$DSTACK_ENGINE_DIR/dstack.so")"
finish
