#!/usr/bin/env bash
# dstack-renew.sh — re-export a dstack key's certificate (and reference) and reload the server
# gracefully, once or on a schedule. The key never changes (it is derived from the URI); what
# renews is the certificate the agent issues for it. Files are replaced atomically by
# dstack-keytool, so a server that re-reads them mid-way sees the old set or the new one.
#
#   dstack-renew.sh --uri URI --key-ref F --cert F [--chain F] [--combined F] [--owner U[:G]]
#                   [--reload CMD] [--if-expires-within SECONDS] [--every SECONDS [--count N]]
#
#   --reload CMD                 run after a successful export: a graceful reload, e.g.
#                                "nginx -s reload", "systemctl reload haproxy",
#                                "kill -USR2 $(cat /run/haproxy.pid)"
#   --if-expires-within SECONDS  renew only when the current certificate expires within that
#                                time (openssl x509 -checkend); default: always
#   --every SECONDS              loop: check/renew, sleep, again (containers without a timer);
#                                --count N stops after N rounds (default: forever)
# systemd: conf/systemd/dstack-renew-nginx.{service,timer} run it once a day.
# Exit status: 0 renewed or nothing to do; 1 export failed (the old files stay, the server is
# not reloaded); 2 usage; 3 the reload command failed.
set -uo pipefail
KEYTOOL=${DSTACK_KEYTOOL:-dstack-keytool}
uri="" cert="" reload="" within="" every="" count=0
export_args=()
usage() { sed -n '2,21p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --uri) uri=${2:?}; shift 2 ;;
    --cert) cert=${2:?}; export_args+=(--cert "$2"); shift 2 ;;
    --key-ref | --chain | --combined | --owner) export_args+=("$1" "${2:?}"); shift 2 ;;
    --reload) reload=${2:?}; shift 2 ;;
    --if-expires-within) within=${2:?}; shift 2 ;;
    --every) every=${2:?}; shift 2 ;;
    --count) count=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "dstack-renew: unknown argument $1" >&2; usage ;;
    esac
done
[ -n "$uri" ] && [ ${#export_args[@]} -gt 0 ] || usage
say() { printf 'dstack-renew: %s\n' "$*" >&2; }

renew_once() {
    if [ -n "$within" ] && [ -n "$cert" ] && [ -f "$cert" ] &&
        OPENSSL_CONF=/dev/null openssl x509 -in "$cert" -noout -checkend "$within" >/dev/null 2>&1; then
        say "$cert is valid for more than $within s: nothing to do"
        return 0
    fi
    if ! "$KEYTOOL" export "$uri" "${export_args[@]}" >/dev/null; then
        say "export of $uri failed; the current files stay in place and nothing is reloaded"
        return 1
    fi
    say "exported a new certificate for $uri"
    if [ -n "$reload" ] && ! sh -c "$reload"; then
        say "reload command failed: $reload"
        return 3
    fi
    return 0
}

if [ -z "$every" ]; then
    renew_once
    exit $?
fi
round=0
while :; do
    renew_once || say "will try again in $every s"
    round=$((round + 1))
    [ "$count" -gt 0 ] && [ "$round" -ge "$count" ] && exit 0
    sleep "$every"
done
