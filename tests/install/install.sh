#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and uses only the installed files: a C
# program built with `pkg-config dstack` talks to the simulator, OpenSSL loads the installed
# provider and engine, and the installed keytool and man page are there.
source "$(dirname "$0")/../lib/common.sh"
require cmake pkg-config cc openssl

prefix="$DSTACK_TMP/prefix"
cmake --install "$DSTACK_BUILD_DIR" --prefix "$prefix" >"$DSTACK_TMP/install.log" 2>&1 ||
    { cat "$DSTACK_TMP/install.log" >&2; fail "cmake --install failed"; finish; }

libdir=$(dirname "$(find "$prefix" -name dstack.pc -path '*/pkgconfig/*' | head -n1)")/..
check "dstack.pc installed" test -f "$libdir/pkgconfig/dstack.pc"
check "provider installed" test -f "$libdir/ossl-modules/dstack.so"
check "engine installed" test -f "$libdir/engines-3/dstack.so"
check "keytool installed" test -x "$prefix/bin/dstack-keytool"
check "simulator installed" test -x "$prefix/bin/dstack-sim"
check "man page installed" test -f "$prefix/share/man/man7/provider-dstack.7"
check "openssl.cnf installed" test -f "$prefix/share/dstack-openssl/conf/openssl-dstack.cnf"

# The relocatable pkg-config file builds the README's library example against the install.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs dstack) || fail "pkg-config dstack failed"
extra=""
[ "${DSTACK_SANITIZE:-0}" = 1 ] && extra="-fsanitize=address,undefined"
check "example builds against the installed headers and library" \
    cc -std=c11 $extra -o "$DSTACK_TMP/agent_info" "$DSTACK_SOURCE_DIR/examples/agent_info.c" $flags \
    -Wl,-rpath,"$libdir"

start_sim installed || { fail "simulator did not start"; finish; }
out=$(DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" "$DSTACK_TMP/agent_info" tls/web 2>&1)
assert_contains "installed libdstack reaches the agent" "$out" "secp256k1 pub"

# The installed provider and engine load from the installed directories.
out=$(OPENSSL_MODULES="$libdir/ossl-modules" DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
    OPENSSL_CONF="$prefix/share/dstack-openssl/conf/openssl-dstack.cnf" \
    run_foreign openssl pkey -in 'dstack:tls/web?cert=none' -pubout 2>&1)
assert_contains "installed provider derives the key" "$out" "BEGIN PUBLIC KEY"
out=$(OPENSSL_ENGINES="$libdir/engines-3" DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
    run_foreign openssl pkey -engine dstack -inform ENGINE -in 'dstack:tls/web' -pubout 2>&1)
assert_contains "installed engine derives the key" "$out" "BEGIN PUBLIC KEY"
finish
