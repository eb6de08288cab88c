#!/usr/bin/env bash
# Installs the build tree into a temporary staging root (DESTDIR) and uses only the installed
# files: a C program built with `pkg-config dstack` talks to the simulator, OpenSSL loads the
# installed provider and engine, and the installed keytool, man pages and conf files are there.
# The provider and engine go to OpenSSL's own directories (absolute, from pkg-config) below the
# staging root, never to the host's: that they are found there with no environment variable
# is checked by tests/install/debian_packages.sh in a chroot.
source "$(dirname "$0")/../lib/common.sh"
require cmake pkg-config cc openssl

stage="$DSTACK_TMP/stage"
prefix="/opt/dstack-test"
DESTDIR="$stage" cmake --install "$DSTACK_BUILD_DIR" --prefix "$prefix" >"$DSTACK_TMP/install.log" 2>&1 ||
    { cat "$DSTACK_TMP/install.log" >&2; fail "cmake --install failed"; finish; }

modulesdir=$(pkg-config --variable=modulesdir libcrypto)
enginesdir=$(pkg-config --variable=enginesdir libcrypto)
libdir=$(dirname "$(find "$stage$prefix" -name dstack.pc -path '*/pkgconfig/*' | head -n1)")/..
check "dstack.pc installed" test -f "$libdir/pkgconfig/dstack.pc"
check "provider installed into OpenSSL's modules directory ($modulesdir)" test -f "$stage$modulesdir/dstack.so"
check "engine installed into OpenSSL's engines directory ($enginesdir)" test -f "$stage$enginesdir/dstack.so"
check "libdstack.so.1 installed" test -e "$libdir/libdstack.so.1"
check "keytool installed" test -x "$stage$prefix/bin/dstack-keytool"
check "simulator installed" test -x "$stage$prefix/bin/dstack-sim"
check "man page provider-dstack(7) installed" test -f "$stage$prefix/share/man/man7/provider-dstack.7"
check "man page dstack-keytool(1) installed" test -f "$stage$prefix/share/man/man1/dstack-keytool.1"
check "man page dstack-sim(1) installed" test -f "$stage$prefix/share/man/man1/dstack-sim.1"
confdir="$stage$prefix/share/dstack-openssl/conf"
check "openssl.cnf installed" test -f "$confdir/openssl-dstack.cnf"
# Installed conf files are rendered: no placeholder left, the engine path is the installed one.
left=$(grep -rln '@[A-Z_]*@' "$confdir" || true)
assert_eq "no @PLACEHOLDER@ left in installed conf files" "" "$left"
assert_contains "openssl-engine.cnf names the installed engine" "$(cat "$confdir/openssl-engine.cnf")" \
    "dynamic_path = $enginesdir/dstack.so"
assert_contains "systemd drop-in names the installed keytool" \
    "$(cat "$confdir/systemd/nginx.service.d/dstack.conf")" "bin/dstack-keytool export"
# The source templates still have them (the tests render those).
check "source templates keep their placeholders" grep -q '@ENGINE@' "$DSTACK_SOURCE_DIR/conf/openssl-engine.cnf"

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
out=$(OPENSSL_MODULES="$stage$modulesdir" DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
    OPENSSL_CONF="$confdir/openssl-dstack.cnf" \
    run_foreign openssl pkey -in 'dstack:tls/web?cert=none' -pubout 2>&1)
assert_contains "installed provider derives the key" "$out" "BEGIN PUBLIC KEY"
out=$(OPENSSL_ENGINES="$stage$enginesdir" DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
    run_foreign openssl pkey -engine dstack -inform ENGINE -in 'dstack:tls/web' -pubout 2>&1)
assert_contains "installed engine derives the key" "$out" "BEGIN PUBLIC KEY"
finish
