#!/usr/bin/env bash
# Installs the Debian 12 packages dstack-openssl needs to build, test, demo and benchmark.
# Idempotent and non-interactive: does nothing when everything is present.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git ca-certificates
    openssl libssl-dev libcurl4-openssl-dev libjson-c-dev libcunit1-dev
    libmicrohttpd-dev libsecp256k1-dev
    curl nginx haproxy procps psmisc python3 xxd jq file clang-format binutils
    gdb # stacks of hung processes in the hostile-agent and fork-stress tests
    # The recipes (docs/recipes.md, tests/integration/recipe_*.sh): every server and client
    # they run, from Debian's archive.
    apache2 lighttpd lighttpd-mod-openssl stunnel4 postgresql postgresql-client redis-server redis-tools
    postfix swaks libnet-ssleay-perl openssh-server openssh-client
    # Debian packaging (debian/, tests/install/debian_packages.sh).
    debhelper dpkg-dev debootstrap
)
# Node.js runs the official dstack JS SDK wire-compatibility test; keep a preinstalled one.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
[ "${DSTACK_WITH_BENCH:-0}" = 1 ] && packages+=(wrk hyperfine)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's nginx/haproxy packages try to start their services; we run our own instances.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy_added=1
fi
# postfix asks how to configure itself: nothing, the recipe test runs its own instance.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ "$policy_added" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
exit 0
