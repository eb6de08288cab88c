#!/usr/bin/env bash
# Runs a command inside a cached Debian 13 (trixie) chroot with this checkout at /src, so
# the suite can be run against trixie's OpenSSL 3.5 (nginx 1.26, haproxy 3.0) from a
# Debian 12 host.
#   scripts/debian13.sh                    the plain test pass: DSTACK_TEST_PASSES=plain ./scripts/test.sh
#   scripts/debian13.sh CMD [ARGS...]      any command, run as root with cwd /src
# The root is made once with debootstrap under build/debian13/root and reused. Builds made
# inside go to /build (DSTACK_BUILD_ROOT) in that root, never to the host's build/. The
# command runs in a PID namespace of its own (its /proc shows only its processes), with the
# host's network. Whatever happens (failure, Ctrl-C, SIGTERM), every process left in the
# root is stopped and everything mounted is unmounted; the exit status is the command's.
# DSTACK_* variables (and CI, TERM) are passed through; DSTACK_FIXTURES, if set, is also
# bind-mounted read-only at the same path, and the directory "shared" beside the checkout
# appears at /shared, beside /src, so the tests' default fixture location works inside.
# Needs root (debootstrap, mount, chroot, unshare).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=trixie
cache="$root/build/debian13"
target="$cache/root"
# Written only after debootstrap and our configuration of the root succeeded: a root without
# it is half-made (interrupted, failed) and is deleted and bootstrapped again.
marker="$cache/root.done"

t_start=$EPOCHREALTIME
t_cmd=""
t_boot=cached
child=""  # the background child we are waiting for (debootstrap, flock, the command)
have_lock=0 # set once we hold the root's lock; only then is the root ours to clean up
status=0

say() { printf 'debian13: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
elapsed() { # seconds from $1 to $2 (EPOCHREALTIME values), one decimal
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot): run it as root or with sudo"
# Inside the chroot (e.g. DSTACK_TEST_PASSES=debian13 passed through) it would bootstrap a root
# inside the root.
[ -z "${DSTACK_IN_DEBIAN13:-}" ] || die "already inside the Debian 13 chroot"
# Mount points are read back from /proc/self/mountinfo, which escapes whitespace; a path
# without any keeps that parsing exact (debootstrap does not like such paths either).
[[ $target =~ [[:space:]\\] ]] && die "the checkout path must not contain whitespace: $root"

# --- the host's mirror -------------------------------------------------------------------
# The mirror, security archive and apt settings of the host (shared with the package test).
# shellcheck source=lib/host-apt.sh
source "$root/scripts/lib/host-apt.sh"

# --- cleanup -------------------------------------------------------------------------------
# Processes whose root directory is the chroot (or inside it): the command, and anything it
# left running (simulators, nginx, haproxy...).
# One find for all of them (a readlink per process would make every round of kill_all slow).
chroot_pids() {
    find /proc -mindepth 2 -maxdepth 2 -name root -path '/proc/[0-9]*' -printf '%h %l\n' 2>/dev/null |
        awk -v t="$target" '$2 == t || index($2, t "/") == 1 { print substr($1, 7) }'
}

running() { # running PID: exists and is not a zombie
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) } # the fields after "pid (comm) "
    [ "${stat%% *}" != Z ]
}

# Stops our child and every process in the chroot: TERM first so servers can exit cleanly,
# KILL whatever is still there after 3s. Never a bare "wait" on the child first: one that
# ignores TERM would hang the cleanup.
kill_all() {
    local i pids
    for ((i = 0; i < 100; i++)); do
        pids=$(chroot_pids)
        # Our child too, unless it is in the chroot already or a zombie (killed, not yet
        # reaped, which kill -0 still finds).
        if [ -n "$child" ] && running "$child" && ! grep -qx "$child" <<<"$pids"; then
            pids="$child $pids"
        fi
        [ -n "${pids//[[:space:]]/}" ] || break
        # shellcheck disable=SC2086  # one PID a word
        if [ "$i" -lt 30 ]; then
            [ "$i" -gt 0 ] || say "stopping processes: ${pids//$'\n'/ }"
            kill -TERM $pids 2>/dev/null || true
        else
            kill -KILL $pids 2>/dev/null || true
        fi
        sleep 0.1
    done
    # Reap the child (dead by now) so its status does not linger.
    if [ -n "$child" ] && ! running "$child"; then wait "$child" 2>/dev/null || true; fi
    child=""
    pids=$(chroot_pids)
    [ -z "$pids" ] && return 0
    say "warning: processes still in the chroot: ${pids//$'\n'/ }"
    return 1
}

# Mount points at or below the root, most recent first (the order to unmount them in).
mounts_below() {
    awk -v t="$target" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | tac
}

unmount_all() {
    local pass mp left
    for pass in 1 2 3 4 5 6; do
        left=$(mounts_below)
        [ -n "$left" ] || return 0
        while read -r mp; do
            if [ "$pass" -le 5 ]; then
                umount "$mp" 2>/dev/null || true
            else
                # Last resort: detach now, the kernel frees it when its last user goes away.
                say "lazy unmount of $mp"
                umount -l "$mp" 2>/dev/null || true
            fi
        done <<<"$left"
        [ -z "$(mounts_below)" ] || sleep 0.5
    done
    left=$(mounts_below)
    [ -z "$left" ] && return 0
    say "error: could not unmount: $(echo "$left" | tr '\n' ' ')"
    return 1
}

cleanup() {
    local ok=0
    kill_all || ok=1
    unmount_all || ok=1
    # apt's downloaded packages are of no further use and would only fill the disk.
    if [ -d "$target/var/cache/apt/archives" ] && [ -z "$(mounts_below)" ]; then
        find "$target/var/cache/apt/archives" -name '*.deb' -type f -delete 2>/dev/null || true
    fi
    return $ok
}

# shellcheck disable=SC2317  # reached through the EXIT trap
on_exit() {
    local rc=$?
    set +e
    trap '' INT TERM HUP # a second Ctrl-C must not cut the cleanup short
    if [ "$have_lock" = 1 ]; then
        cleanup || { [ "$rc" -ne 0 ] || rc=1; }
    else
        # Still waiting for the lock: the mounts and processes belong to the run holding it.
        kill -TERM "$child" 2>/dev/null || true
    fi
    local t_end=$EPOCHREALTIME
    if [ -n "$t_cmd" ]; then
        say "timing: setup $(elapsed "$t_start" "$t_cmd")s (bootstrap $t_boot)," \
            "command $(elapsed "$t_cmd" "$t_end")s; exit status $rc"
    else
        say "timing: setup $(elapsed "$t_start" "$t_end")s (bootstrap $t_boot), command not run; exit status $rc"
    fi
    exit "$rc"
}
trap on_exit EXIT
# A trapped signal interrupts "wait" at once (a foreground child would delay the trap until it
# ended), so every long step runs as a background child waited for with run_child.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs "$@" as the waited-for child. An explicit <&0 keeps stdin (bash gives background jobs
# /dev/null otherwise); env --default-signal undoes the SIGINT/SIGQUIT ignoring that bash
# gives background jobs (inherited by everything below, it would break tests that trap or
# send SIGINT); fd 9, our lock, is not handed down.
run_child() {
    local rc=0
    env --default-signal=INT,QUIT "$@" <&0 9>&- &
    child=$!
    wait "$child" || rc=$?
    child=""
    return "$rc"
}

# --- one run at a time per root ------------------------------------------------------------
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
    say "waiting for another debian13.sh run on $target"
    # In the background so that a signal is not held up; flock on the inherited descriptor
    # (the same open file) takes the lock for this shell too.
    flock 9 &
    child=$!
    wait "$child"
    child=""
fi
have_lock=1
# We hold the lock, so anything still mounted or running in the root is left over from a run
# that was killed without its cleanup (SIGKILL, power loss): clear it before going on.
cleanup || die "could not clear what an earlier run left in $target"

# --- debootstrap on the host ----------------------------------------------------------------
# As scripts/install-deps.sh does: idempotent, non-interactive, nothing done if present.
if ! dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q "install ok installed"; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap
fi

# --- the cached root --------------------------------------------------------------------------
if [ ! -f "$marker" ] || [ ! -d "$target" ]; then
    rm -f "$marker"
    if [ -e "$target" ]; then
        say "removing the half-made root $target"
        # Never delete through a mount (the checkout is bind-mounted inside during runs, and
        # is on the same file system, so --one-file-system alone would not stop rm).
        [ -z "$(mounts_below)" ] || die "mounts left below $target; not deleting it"
        rm -rf --one-file-system "$target"
    fi
    say "bootstrapping Debian 13 ($suite) from $mirror into $target"
    t0=$EPOCHREALTIME
    # minbase: apt + essential only; ca-certificates so that https (npm, a https mirror)
    # works before install-deps.sh has run. debootstrap's wget reads the proxy from the env.
    if ! run_child env ${http_proxy_host:+http_proxy="$http_proxy_host"} \
        debootstrap --variant=minbase --include=ca-certificates --components=main \
        "$suite" "$target" "$mirror" >"$cache/debootstrap.out" 2>&1; then
        tail -n 30 "$cache/debootstrap.out" >&2
        [ -f "$target/debootstrap/debootstrap.log" ] && tail -n 30 "$target/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (full output: $cache/debootstrap.out); the next run starts over"
    fi
    # apt inside: delete downloaded .debs once installed, no translations (disk, time).
    cat >"$target/etc/apt/apt.conf.d/90debian13-lean" <<'EOF'
// written by scripts/debian13.sh: this root is a cache, keep it small
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
EOF
    find "$target/var/cache/apt/archives" -name '*.deb' -type f -delete
    mkdir -p "$target/src" "$target/build" "$target/shared"
    t_boot=$(elapsed "$t0" "$EPOCHREALTIME")s
    printf 'suite=%s\nmirror=%s\ndate=%s\nseconds=%s\n' "$suite" "$mirror" "$(date -u +%FT%TZ)" \
        "$t_boot" >"$marker"
    say "bootstrap done in $t_boot"
fi

# --- host settings copied in before each run ----------------------------------------------
# Files are removed before being written: a symlink in the root (resolv.conf often is one)
# would otherwise be followed to a path on the host.
put() { # put DEST_IN_ROOT < content
    local dst="$target$1"
    mkdir -p "$(dirname "$dst")"
    rm -f "$dst"
    cat >"$dst"
}
copy_in() { # copy_in HOST_FILE DEST_IN_ROOT
    put "$2" <"$1"
}

# Sources: the host's mirror, kept current if the host changes mirror.
rm -f "$target/etc/apt/sources.list"
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$suite" "$suite"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    [ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$security" "$suite"
} | put /etc/apt/sources.list.d/debian.sources

if [ -n "$host_apt_conf" ]; then
    printf '// copied from the host by scripts/debian13.sh\n%s\n' "$host_apt_conf" |
        put /etc/apt/apt.conf.d/01debian13-host
else
    rm -f "$target/etc/apt/apt.conf.d/01debian13-host"
fi

# Name resolution as on the host (localhost, the mirror, the npm registry).
copy_in /etc/resolv.conf /etc/resolv.conf
copy_in /etc/hosts /etc/hosts

# npm: the same settings and registry as the host, so "npm ci" inside reaches what the
# host reaches. A config the host no longer has is removed inside too.
npm_env=()
if [ -f "${HOME:-/root}/.npmrc" ]; then copy_in "${HOME:-/root}/.npmrc" /root/.npmrc; else rm -f "$target/root/.npmrc"; fi
if [ -f /etc/npmrc ]; then copy_in /etc/npmrc /etc/npmrc; else rm -f "$target/etc/npmrc"; fi
if command -v npm >/dev/null 2>&1; then
    reg=$(npm config get registry 2>/dev/null || true)
    [ -z "$reg" ] || npm_env=("npm_config_registry=$reg")
fi

# CA certificates the host added to Debian's set: /usr/local/share/ca-certificates (the
# Debian way) and certificates dropped straight into /etc/ssl/certs as regular files (links
# there point into /usr/share/ca-certificates, which the root's own package provides).
# Staged, compared with the previous copy, and update-ca-certificates run only on a change.
ca_new="$cache/ca.staged"
ca_dst="$target/usr/local/share/ca-certificates/debian13-host"
rm -rf "$ca_new"
mkdir -p "$ca_new"
declare -A ca_seen=()
add_ca() { # add_ca FILE NAME
    local sum
    grep -q -- '-----BEGIN CERTIFICATE-----' "$1" 2>/dev/null || return 0
    sum=$(sha256sum <"$1" | cut -d' ' -f1)
    [ -z "${ca_seen[$sum]:-}" ] || return 0
    ca_seen[$sum]=1
    cp -L "$1" "$ca_new/$2.crt"
}
if [ -d /usr/local/share/ca-certificates ]; then
    while IFS= read -r -d '' f; do
        rel=${f#/usr/local/share/ca-certificates/}
        rel=${rel%.crt}
        add_ca "$f" "local-${rel//\//_}"
    done < <(find -L /usr/local/share/ca-certificates -type f -name '*.crt' -print0 | sort -z)
fi
while IFS= read -r -d '' f; do
    [ "$(basename "$f")" = ca-certificates.crt ] && continue
    add_ca "$f" "etc-$(basename "${f%.*}")"
done < <(find /etc/ssl/certs -maxdepth 1 -type f \( -name '*.pem' -o -name '*.crt' \) -print0 2>/dev/null | sort -z)
ca_changed=0
if ! diff -qr "$ca_new" "$ca_dst" >/dev/null 2>&1; then
    rm -rf "$ca_dst"
    mkdir -p "$(dirname "$ca_dst")"
    cp -a "$ca_new" "$ca_dst"
    ca_changed=1
fi
rm -rf "$ca_new"

# --- mounts -----------------------------------------------------------------------------------
# A bind of a shared mount propagates mounts made below it back to the host (a tmpfs on the
# root's /dev/shm would appear on the host's /dev/shm). So the root is first made its own
# private mount, and every bind below it is made private too.
bind() { # bind SRC DEST [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    mount --make-private "$2"
    [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}
bind "$target" "$target"
bind /sys "$target/sys"
bind /dev "$target/dev"
bind /dev/pts "$target/dev/pts"
# Fresh, empty /dev/shm and /tmp each run: nothing from the host or a previous run leaks in.
mkdir -p "$target/dev/shm" "$target/tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$target/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$target/tmp"
bind "$root" "$target/src"
# "shared" beside the checkout (a symlink is fine) appears beside /src, read-only.
shared="$(dirname "$root")/shared"
if [ -d "$shared" ]; then
    bind "$(readlink -f "$shared")" "$target/shared" ro
fi
env_extra=()
if [ -n "${DSTACK_FIXTURES:-}" ]; then
    [ -d "$DSTACK_FIXTURES" ] || die "DSTACK_FIXTURES=$DSTACK_FIXTURES is not a directory"
    fix=$(readlink -f "$DSTACK_FIXTURES")
    case "$fix" in
    "$target" | "$target"/*) ;; # already inside the root
    *) bind "$fix" "$target$fix" ro ;;
    esac
    env_extra+=("DSTACK_FIXTURES=$fix")
fi
mkdir -p "$target/build"

# --- the command -------------------------------------------------------------------------------
# A clean environment: nothing of the host's PATH, locale or build settings gets in, except
# DSTACK_* (test pass selection and the like), CI and TERM.
env_pass=()
while read -r v; do
    case "$v" in
    DSTACK_BUILD_ROOT | DSTACK_FIXTURES | DSTACK_IN_DEBIAN13) ;;
    DSTACK_* | CI | TERM) env_pass+=("$v=${!v}") ;;
    esac
done < <(compgen -e)
chroot_env=(
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
    DSTACK_BUILD_ROOT=/build DSTACK_IN_DEBIAN13=1
    "${env_pass[@]}" "${env_extra[@]}" "${npm_env[@]}"
)
if [ "$ca_changed" = 1 ]; then
    # Quiet unless it fails: it warns about the bundle itself on every run.
    run_child env -i "${chroot_env[@]}" chroot "$target" update-ca-certificates >"$cache/update-ca.out" 2>&1 ||
        { cat "$cache/update-ca.out" >&2; die "update-ca-certificates failed in the root"; }
fi

[ $# -gt 0 ] || set -- env DSTACK_TEST_PASSES=plain ./scripts/test.sh
# The command gets a PID namespace of its own, with its own /proc (unshare --mount-proc mounts
# it in a private mount namespace, gone with the last process). With the host's /proc the
# suite's own leak checks (tests/lib/leftover-processes.sh matches command lines against
# "/build/test/") would see, and kill, other builds' processes on the host, and its pgrep
# checks could pick them. --kill-child: if unshare dies, the namespace dies with it.
# Its pid 1 is this small init: PID 1 gets no signal it has no handler for, so it forwards
# TERM/INT/HUP to the command, and it reaps orphans; when it exits the kernel kills whatever
# is left in the namespace.
# shellcheck disable=SC2016  # expanded by the init, not here
init='cd /src || exit 1
env --default-signal=INT,QUIT "$@" <&0 &
pid=$!
trap "kill -TERM $pid 2>/dev/null" TERM HUP
trap "kill -INT $pid 2>/dev/null" INT
while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break # still there: wait was cut short by a signal
done
exit "$rc"'
say "running in Debian 13: $*"
t_cmd=$EPOCHREALTIME
run_child env -i "${chroot_env[@]}" unshare --pid --fork --kill-child --mount-proc="$target/proc" \
    chroot "$target" /bin/bash -c "$init" debian13 "$@" || status=$?
exit "$status"
