#!/usr/bin/env bash
# Entrypoint of the dstack app example (Dockerfile, docker-compose.yaml): exports the reference
# PEM and certificate of the app's key from the agent (/var/run/dstack.sock, mounted by the
# compose file), renders nginx's configuration, starts the renewal loop (dstack-renew.sh: a
# new certificate for the same key, then a graceful `nginx -s reload`) and runs nginx in the
# foreground with the provider active. Every setting has a default for the image and can be
# overridden (the test runs this very script against dstack-sim):
#   DSTACK_KEY_URI   the key (default dstack:tls/app?san=$APP_DOMAIN, APP_DOMAIN=app.example.com)
#   TLS_DIR          where the reference and certificate go (/etc/nginx/dstack)
#   NGINX_PREFIX     nginx's pid/temp directory (/var/lib/nginx)
#   PORT             HTTPS port (443)
#   RENEW_EVERY      seconds between renewal checks (86400)
#   RENEW_WITHIN     renew when the certificate expires within this many seconds (604800)
#   OPENSSL_CONF, NGINX_TEMPLATE, RENEW_SCRIPT, DSTACK_KEYTOOL   the installed files
set -euo pipefail
APP_DOMAIN=${APP_DOMAIN:-app.example.com}
DSTACK_KEY_URI=${DSTACK_KEY_URI:-dstack:tls/app?san=$APP_DOMAIN}
TLS_DIR=${TLS_DIR:-/etc/nginx/dstack}
NGINX_PREFIX=${NGINX_PREFIX:-/var/lib/nginx}
PORT=${PORT:-443}
RENEW_EVERY=${RENEW_EVERY:-86400}
RENEW_WITHIN=${RENEW_WITHIN:-604800}
export OPENSSL_CONF=${OPENSSL_CONF:-/usr/share/dstack-openssl/conf/openssl-dstack.cnf}
NGINX_TEMPLATE=${NGINX_TEMPLATE:-/etc/nginx/dstack-app.conf.template}
RENEW_SCRIPT=${RENEW_SCRIPT:-/usr/share/dstack-openssl/conf/dstack-renew.sh}
export DSTACK_KEYTOOL=${DSTACK_KEYTOOL:-dstack-keytool}

mkdir -p "$TLS_DIR" "$NGINX_PREFIX"
# The key reference and the certificate; with the agent unreachable this fails within the
# provider's timeout, naming the endpoint, and the container exits (its restart policy retries).
"$DSTACK_KEYTOOL" export "$DSTACK_KEY_URI" --key-ref "$TLS_DIR/app.key" --cert "$TLS_DIR/app.crt" \
    --chain "$TLS_DIR/app.chain"
conf="$NGINX_PREFIX/nginx.conf"
sed -e "s|@PREFIX@|$NGINX_PREFIX|g" -e "s|@PORT@|$PORT|g" -e "s|@TLSDIR@|$TLS_DIR|g" \
    "$NGINX_TEMPLATE" >"$conf"
nginx -t -q -p "$NGINX_PREFIX" -c "$conf"

# Renewal: the first round after RENEW_EVERY seconds; a failed round keeps the current files
# and nginx serving, and is retried the next round.
(
    sleep "$RENEW_EVERY"
    exec "$RENEW_SCRIPT" --uri "$DSTACK_KEY_URI" --key-ref "$TLS_DIR/app.key" \
        --cert "$TLS_DIR/app.crt" --chain "$TLS_DIR/app.chain" --if-expires-within "$RENEW_WITHIN" \
        --reload "nginx -p '$NGINX_PREFIX' -c '$conf' -s reload" --every "$RENEW_EVERY"
) &
exec nginx -p "$NGINX_PREFIX" -c "$conf" -g 'daemon off;'
