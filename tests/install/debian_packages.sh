#!/usr/bin/env bash
# The Debian packages, end to end: dpkg-buildpackage -us -uc -b on a copy of this checkout, then
# the packages installed into a clean Debian 12 chroot (debootstrap from the host's mirror,
# scripts/lib/host-apt.sh) where, with no environment variable and no build tree:
#   - `openssl list -providers -provider dstack` finds the provider in OpenSSL's own directory
#     (what a default `cmake --install` also gives: the packages install with it);
#   - libdstack.so.1 is known to the dynamic linker (the package's ldconfig trigger);
#   - dstack-sim from its package serves /var/run/dstack.sock, the default endpoint;
#   - `openssl s_server -key dstack:… -cert dstack:…` serves TLS, pinned from the host;
#   - the installed nginx recipe (conf rendered with the installed paths) serves HTTPS;
#   - `dstack-keytool doctor` passes every check.
# The chroot's base (minbase + the packages' dependencies, never ours) is cached under
# build/debian12-packages; every run installs into a fresh copy of it. Inside the Debian 13
# chroot pass (scripts/debian13.sh) only the build is checked: the packages build on Debian 13.
source "$(dirname "$0")/../lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require dpkg-buildpackage dh curl openssl python3
[ "$(id -u)" -eq 0 ] || { fail "needs root (debootstrap, chroot)"; finish; }
# The packages are built from the sources, not from this build tree: the sanitizer pass would
# only repeat the plain pass's run.
[ "${DSTACK_SANITIZE:-0}" = 1 ] && skip "sanitizer build: the plain pass builds and tests the packages"
t0=$SECONDS

# ---- build ---------------------------------------------------------------------------------
pkg="$DSTACK_TMP/pkg"
mkdir -p "$pkg/src"
(cd "$DSTACK_SOURCE_DIR" && git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T -) |
    tar -xf - -C "$pkg/src" || { fail "copy the source"; finish; }
(cd "$pkg/src" && dpkg-buildpackage -us -uc -b >"$pkg/build.log" 2>&1) ||
    { fail "dpkg-buildpackage: $(tail -20 "$pkg/build.log")"; finish; }
debs=()
for p in libdstack1 libdstack-dev openssl-provider-dstack dstack-keytool dstack-sim; do
    f=$(ls "$pkg/${p}_"*.deb 2>/dev/null | head -n1)
    check "package $p built" test -n "$f"
    debs+=("$f")
done
modulesdir=$(pkg-config --variable=modulesdir libcrypto)
assert_contains "the provider is in OpenSSL's modules directory" \
    "$(dpkg -c "$pkg"/openssl-provider-dstack_*.deb)" ".$modulesdir/dstack.so"
check "no placeholder in the packaged conf files" \
    sh -c "! dpkg --fsys-tarfile $pkg/openssl-provider-dstack_*.deb | tar -xOf - ./usr/share/dstack-openssl/conf | grep -q '@[A-Z_]*@'"
log "packages built in $((SECONDS - t0)) s"
if [ -n "${DSTACK_IN_DEBIAN13:-}" ]; then
    log "inside the Debian 13 chroot: the build is what this pass checks"
    finish
fi
require debootstrap chroot

# ---- the cached base -------------------------------------------------------------------------
cache="$DSTACK_SOURCE_DIR/build/debian12-packages"
base="$cache/base"
mkdir -p "$cache"
exec 8>"$cache/lock"
flock 8
# What our packages depend on, and what the test runs: in the base, so a run needs no network.
base_pkgs="openssl libssl3 libcurl4 libjson-c5 libsecp256k1-1 libmicrohttpd12 nginx curl ca-certificates"
if [ ! -f "$cache/base.done" ] || [ "$(cat "$cache/base.done")" != "$base_pkgs" ]; then
    source "$DSTACK_SOURCE_DIR/scripts/lib/host-apt.sh"
    rm -rf --one-file-system "$base"
    log "bootstrapping Debian 12 from $mirror into $base"
    env ${http_proxy_host:+http_proxy="$http_proxy_host"} debootstrap --variant=minbase \
        --include=ca-certificates --components=main bookworm "$base" "$mirror" >"$cache/debootstrap.out" 2>&1 ||
        { fail "debootstrap: $(tail -5 "$cache/debootstrap.out")"; finish; }
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        [ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
    } >"$base/etc/apt/sources.list.d/debian.sources"
    rm -f "$base/etc/apt/sources.list"
    [ -z "$host_apt_conf" ] || printf '%s\n' "$host_apt_conf" >"$base/etc/apt/apt.conf.d/01host"
    printf 'APT::Keep-Downloaded-Packages "false";\nAcquire::Languages "none";\n' >"$base/etc/apt/apt.conf.d/90lean"
    # No service starts by itself inside: the test starts what it needs.
    printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
    chmod +x "$base/usr/sbin/policy-rc.d"
    rm -f "$base/etc/resolv.conf"
    cp /etc/resolv.conf "$base/etc/resolv.conf"
    # shellcheck disable=SC2086
    chroot "$base" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $base_pkgs" \
        >"$cache/base-apt.out" 2>&1 || { fail "base packages: $(tail -5 "$cache/base-apt.out")"; finish; }
    echo "$base_pkgs" >"$cache/base.done"
    log "base ready in $((SECONDS - t0)) s"
fi

# ---- a fresh copy, our packages installed --------------------------------------------------
R="$cache/run.$$"
cleanup_root() {
    local i
    # Anything still running inside (a failed check left a server) is stopped first.
    for i in 1 2 3; do
        pids=$(find /proc -mindepth 2 -maxdepth 2 -name root -path '/proc/[0-9]*' -printf '%h %l\n' 2>/dev/null |
            awk -v t="$R" '$2 == t || index($2, t "/") == 1 { print substr($1, 7) }')
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null
        sleep 1
        [ "$i" -lt 3 ] || kill -KILL $pids 2>/dev/null
    done
    umount "$R/proc" 2>/dev/null || umount -l "$R/proc" 2>/dev/null
    if ! awk -v t="$R" 'index($5, t "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        rm -rf --one-file-system "$R"
    fi
}
trap 'cleanup_root; _dstack_cleanup' EXIT
cp -a "$base" "$R"
mkdir -p "$R/pkgs"
cp "${debs[@]}" "$R/pkgs/"
mount -t proc proc "$R/proc"
# in_root CMD... — run in the chroot with a clean environment: no OPENSSL_*, no DSTACK_*
# setting, no build tree. The test tag stays so that run-test.sh can find strays.
in_root() {
    chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DSTACK_TEST_TAG="${DSTACK_TEST_TAG:-}" \
        DEBIAN_FRONTEND=noninteractive "$@"
}
in_root sh -c 'apt-get install -y -qq --no-install-recommends /pkgs/*.deb' >"$DSTACK_TMP/apt.out" 2>&1 ||
    { fail "installing the packages: $(tail -10 "$DSTACK_TMP/apt.out")"; finish; }
pass

out=$(in_root openssl list -providers -provider dstack 2>&1)
assert_contains "openssl list -providers -provider dstack, no environment" "$out" "dstack"
assert_contains "... the provider is active" "$out" "status: active"
assert_contains "libdstack.so.1 known to the dynamic linker" "$(in_root ldconfig -p)" "libdstack.so.1"

# dstack-sim from its package on the default endpoint.
in_root mkdir -p /var/run
bg chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DSTACK_TEST_TAG="${DSTACK_TEST_TAG:-}" \
    dstack-sim --dir /var/run >"$DSTACK_TMP/sim.out" 2>&1
for _ in $(seq 1 100); do [ -S "$R/run/dstack.sock" ] && break; sleep 0.1; done
check "dstack-sim (package) serves /var/run/dstack.sock" test -S "$R/run/dstack.sock" # /var/run -> /run

# openssl s_server with dstack: URIs, the provider loaded by name.
P=$(free_port)
bg chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DSTACK_TEST_TAG="${DSTACK_TEST_TAG:-}" \
    openssl s_server -provider dstack -provider default -accept "127.0.0.1:$P" -www -quiet \
    -key 'dstack:tls/web?san=localhost' -cert 'dstack:tls/web?san=localhost' >"$DSTACK_TMP/s_server.out" 2>&1
SS_PID=$BG_PID
if wait_listen "$P" "$SS_PID" 300; then
    assert_eq "s_server in the chroot presents the derived key" "$(dev_pin tls/web)" "$(server_pin "$P" -servername localhost)"
    stop_pid "$SS_PID"
else
    fail "s_server did not start: $(cat "$DSTACK_TMP/s_server.out")"
fi

# The nginx recipe as installed: export the three keys, the installed conf on a free port.
P=$(free_port)
in_root sh -c 'mkdir -p /etc/nginx/dstack && for n in www api admin; do
    dstack-keytool export "dstack:tls/$n?san=$n.example.test" --key-ref /etc/nginx/dstack/$n.key \
        --cert /etc/nginx/dstack/$n.crt --chain /etc/nginx/dstack/$n.chain >/dev/null || exit 1; done' ||
    fail "dstack-keytool export in the chroot"
sed "s/127.0.0.1:443/127.0.0.1:$P/" "$R/usr/share/dstack-openssl/conf/nginx-dstack.conf" >"$R/etc/nginx/dstack.conf"
bg chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DSTACK_TEST_TAG="${DSTACK_TEST_TAG:-}" \
    OPENSSL_CONF=/usr/share/dstack-openssl/conf/openssl-dstack.cnf \
    nginx -c /etc/nginx/dstack.conf -g 'daemon off;' >"$DSTACK_TMP/nginx.out" 2>&1
NG_PID=$BG_PID
if wait_listen "$P" "$NG_PID" 300; then
    for n in www api admin; do
        body=$(OPENSSL_CONF=/dev/null curl -sS --max-time 10 --resolve "$n.example.test:$P:127.0.0.1" \
            --cacert "$R/etc/nginx/dstack/$n.chain" --pinnedpubkey "$(dev_pin "tls/$n")" "https://$n.example.test:$P/" 2>&1)
        assert_eq "installed nginx recipe: $n" "hello from $n over a dstack key" "$body"
    done
    stop_pid "$NG_PID"
else
    fail "nginx did not start in the chroot: $(cat "$DSTACK_TMP/nginx.out")"
fi

out=$(in_root env OPENSSL_CONF=/usr/share/dstack-openssl/conf/openssl-dstack.cnf \
    dstack-keytool doctor --ref /etc/nginx/dstack/www.key 2>&1)
assert_contains "dstack-keytool doctor in the chroot: every check passes" "$out" "all checks passed"
assert_contains "... the engine is found in OpenSSL's directory" "$out" "ok    engine"
# Per service by default: without OPENSSL_CONF nothing but the named processes has the provider.
out=$(in_root openssl pkey -in /etc/nginx/dstack/www.key -pubout 2>&1)
assert_not_contains "no system-wide provider by default" "$out" "BEGIN PUBLIC KEY"
# System-wide, as docs/deployment.md says: one .include line at the end of Debian's openssl.cnf.
echo ".include /usr/share/dstack-openssl/conf/openssl-dstack-system.cnf" >>"$R/etc/ssl/openssl.cnf"
out=$(in_root openssl pkey -in /etc/nginx/dstack/www.key -pubout 2>&1)
assert_contains "system-wide: a reference loads with no OPENSSL_CONF" "$out" "BEGIN PUBLIC KEY"
out=$(in_root dstack-keytool doctor 2>&1)
assert_contains "system-wide: doctor sees OpenSSL's default file active" "$out" "/usr/lib/ssl/openssl.cnf activates dstack and default"
assert_contains "system-wide: every check passes" "$out" "all checks passed"
log "debian_packages took $((SECONDS - t0)) s"
finish
