#!/usr/bin/env bash
# dstack-keytool doctor: all checks pass in a working setup, and each of the mistakes users make
# is diagnosed with its fix and a non-zero exit: provider not found, configuration that does
# not activate it, agent down, bad URI, unreadable reference file, reference that is not one.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require openssl setpriv

start_sim sim || { fail "simulator did not start"; finish; }
provider_env
export OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf" OPENSSL_ENGINES="$DSTACK_ENGINE_DIR"
out="$DSTACK_TMP/out"
mkdir -p "$out"
"$KEYTOOL" export 'dstack:tls/doctor?san=doctor.example.test' --key-ref "$out/web.key" \
    --combined "$out/web.pem" >/dev/null || fail "export"

doctor() { # doctor ARGS... — sets D_OUT and D_RC
    D_OUT=$(run_foreign timeout 30 "$KEYTOOL" doctor "$@" 2>&1)
    D_RC=$?
}
expect_fail() { # WHAT CHECK NEEDLE FIX-NEEDLE
    assert_eq "$1: exit 1" 1 "$D_RC"
    assert_contains "$1: the failing check" "$D_OUT" "FAIL  $2"
    assert_contains "$1: what is wrong" "$D_OUT" "$3"
    assert_contains "$1: the fix" "$D_OUT" "fix: "
    assert_contains "$1: the fix says what to do" "$D_OUT" "$4"
}

doctor --ref "$out/web.key" --ref "$out/web.pem"
assert_eq "working setup: exit 0" 0 "$D_RC"
assert_contains "working setup: all checks passed" "$D_OUT" "all checks passed"
assert_contains "names the configuration in effect" "$D_OUT" "$CONF_DIR/openssl-dstack.cnf (OPENSSL_CONF)"
assert_contains "names the agent endpoint" "$D_OUT" "$SIM_ENDPOINT answers"
assert_contains "the combined file decodes" "$D_OUT" "ok    ref       $out/web.pem decodes"
# The order of the checks is the order things go wrong in.
order=$(awk '{ print $2 }' <<<"$D_OUT" | grep -v '^checks$' | uniq | tr '\n' ' ')
assert_eq "checks in order" "config provider active engine agent key ref " "$order"

OPENSSL_MODULES="$DSTACK_TMP/no-modules" doctor
expect_fail "provider not found" provider "$DSTACK_TMP/no-modules" "OPENSSL_MODULES"

OPENSSL_CONF=/dev/null doctor
expect_fail "configuration not active" active "/dev/null does not activate the dstack provider" "openssl-dstack.cnf"
OPENSSL_CONF="$DSTACK_TMP/missing.cnf" doctor
expect_fail "configuration file missing" config "$DSTACK_TMP/missing.cnf" "OPENSSL_CONF"

OPENSSL_ENGINES="$DSTACK_TMP/no-engines" doctor
expect_fail "engine not found" engine "$DSTACK_TMP/no-engines/dstack.so" "OPENSSL_ENGINES"

DSTACK_SIMULATOR_ENDPOINT="$DSTACK_TMP/nowhere.sock" TAPPD_SIMULATOR_ENDPOINT="$DSTACK_TMP/nowhere2.sock" doctor
expect_fail "agent down" agent "$DSTACK_TMP/nowhere.sock" "dstack.sock"
assert_contains "agent down: the key check is skipped" "$D_OUT" "skip  key"

doctor 'dstack:tls/doctor?alg=rsa'
expect_fail "bad URI" uri 'unsupported alg "rsa"' "dstack:<path>"

# Unreadable as the service would be (root without the capabilities that bypass modes).
chmod 000 "$out/web.key"
D_OUT=$(setpriv --bounding-set=-dac_override,-dac_read_search "$KEYTOOL" doctor --ref "$out/web.key" 2>&1)
D_RC=$?
expect_fail "unreadable reference" ref "$out/web.key cannot be read: Permission denied" "--owner"
chmod 600 "$out/web.key"
doctor --ref "$DSTACK_TMP/absent.key"
expect_fail "missing reference" ref "No such file or directory" "--owner"
cp "$out/web.pem" "$out/certs-only.pem"
sed -i '/BEGIN DSTACK KEY URI/,$d' "$out/certs-only.pem"
doctor --ref "$out/certs-only.pem"
expect_fail "no reference in the file" ref "does not decode to a key" "BEGIN DSTACK KEY URI"
finish
