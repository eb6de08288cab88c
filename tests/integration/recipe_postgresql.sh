#!/usr/bin/env bash
# Recipe: PostgreSQL 15 running as the postgres user, its key a reference PEM owned by it
# (`dstack-keytool export --owner postgres`, conf/postgresql-dstack.conf), the provider active
# through OPENSSL_CONF. psql authenticates with a client certificate whose key is a reference too
# (libpq sslkey) and verifies the server (verify-full); openssl s_client -starttls postgres pins
# the served key to dev_key.py's. Restarts keep it; a reference owned by root is refused (why
# --owner exists); with the agent down the server refuses to start, promptly, naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
PATH="$PGBIN:$PATH"
require postgres initdb psql openssl python3 setpriv
# The postmaster does not come up with the sanitizer runtimes preloaded (it hangs silently
# before logging anything), and without them it cannot load the instrumented provider: this
# recipe runs in the plain and debian13 passes.
[ "${DSTACK_SANITIZE:-0}" = 1 ] && skip "postgres does not start under the ASan runtime preload"

recipe_start
P="$DSTACK_TMP/pg"
mkdir -p "$P"
chown postgres: "$P"
open_dirs_to "$P" "$TLS_DIR"
export_as pg 'dstack:tls/postgres?san=db.example.test' --owner postgres
server_pin_expected=$PIN
export_as pgclient 'dstack:tls/pg-client?cn=alice&usage=client'
check "key reference owned by postgres, 0600" test "$(stat -c '%U %a' "$TLS_DIR/pg.key")" = "postgres 600"
PORT=$(free_port)
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
OPENSSL_CONF=/dev/null as_pg initdb -D "$P/data" -U alice -A trust --no-sync >"$P/initdb.log" 2>&1 || fail "initdb: $(tail -3 "$P/initdb.log")"
render "$CONF_DIR/postgresql-dstack.conf" "$P/postgresql.conf" PREFIX="$P" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render postgresql-dstack.conf"
render "$CONF_DIR/postgresql-dstack-hba.conf" "$P/pg_hba.conf" || fail "render postgresql-dstack-hba.conf"
chown postgres: "$P/postgresql.conf" "$P/pg_hba.conf"

start_pg() {
    bg run_foreign setpriv --reuid=postgres --regid=postgres --init-groups \
        postgres -c config_file="$P/postgresql.conf" >"$P/stdout" 2>"$P/server.log"
    PG_PID=$BG_PID
    wait_listen "$PORT" "$PG_PID" 300
}
query() { # the psql client, root, its own key a reference PEM (0600 root is what libpq wants)
    run_foreign timeout 20 psql -X -At "hostaddr=127.0.0.1 host=db.example.test port=$PORT dbname=postgres user=alice sslmode=verify-full sslrootcert=$TLS_DIR/pg.chain sslcert=$TLS_DIR/pgclient.crt sslkey=$TLS_DIR/pgclient.key connect_timeout=10" \
        -c "select 'hello ' || current_user || ' over ' || version from pg_stat_ssl where pid = pg_backend_pid()"
}

if start_pg; then
    out=$(query 2>&1)
    assert_contains "psql with a dstack client key, server verified" "$out" "hello alice over TLSv1."
    assert_eq "the server presents the derived key" "$server_pin_expected" "$(server_pin "$PORT" -starttls postgres)"
    # Without the client certificate pg_hba refuses: the certificate is what authenticates.
    out=$(run_foreign timeout 20 psql -X -At "hostaddr=127.0.0.1 host=db.example.test port=$PORT dbname=postgres user=alice sslmode=verify-full sslrootcert=$TLS_DIR/pg.chain sslcert=/dev/null sslkey=/dev/null" -c 'select 1' 2>&1)
    assert_contains "no client certificate: refused" "$out" "certificate"
    stop_pid "$PG_PID"
else
    fail "postgres did not start: $(tail -5 "$P/server.log")"
fi

recipe_restart_sim
if start_pg; then
    assert_contains "after restarting postgres and the agent" "$(query 2>&1)" "hello alice"
    assert_eq "same pin after the restarts" "$server_pin_expected" "$(server_pin "$PORT" -starttls postgres)"
    stop_pid "$PG_PID"
else
    fail "postgres did not restart: $(tail -5 "$P/server.log")"
fi

# A reference owned by root (export without --owner): postgres cannot read it and says so.
"$KEYTOOL" export 'dstack:tls/postgres?san=db.example.test' --key-ref "$TLS_DIR/pg.key" >/dev/null
expect_start_failure "postgres with a root-owned reference" 20 \
    setpriv --reuid=postgres --regid=postgres --init-groups postgres -c config_file="$P/postgresql.conf"
assert_contains "root-owned reference: postgres names the key file" "$(cat "$FAIL_OUT")" "$TLS_DIR/pg.key"
"$KEYTOOL" export 'dstack:tls/postgres?san=db.example.test' --key-ref "$TLS_DIR/pg.key" --owner postgres >/dev/null

stop_sim
expect_start_failure "postgres without agent" 10 \
    setpriv --reuid=postgres --regid=postgres --init-groups postgres -c config_file="$P/postgresql.conf"
agent_down_names_endpoint "postgres" "$(cat "$FAIL_OUT")"
finish
