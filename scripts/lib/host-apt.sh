# Sourced by scripts/debian13.sh and tests/install/debian_packages.sh: the host's Debian mirror,
# security archive, apt proxy and archive-validity settings, so that a chroot bootstrapped
# from this host uses the same sources the host can reach. Sets mirror, security,
# host_apt_conf and http_proxy_host.
# Every URI of an enabled "deb" source of the host, deb822 (.sources) and one-line (.list).
host_apt_uris() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: stanzas separated by blank lines, fields may go on over indented lines;
        # print the URIs of stanzas with Types: deb that are not "Enabled: no".
        awk '
            function flush() { if (deb && enabled) for (i = 1; i <= n; i++) print u[i]; deb = 0; enabled = 1; n = 0 }
            BEGIN { enabled = 1 }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]/ { if (last == "uris:") for (i = 1; i <= NF; i++) u[++n] = $i; next }
            { last = tolower($1) }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "enabled:" { if (tolower($2) == "no") enabled = 0 }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++n] = $i }
            END { flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # one-line: "deb [options] URI suite components"
        awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ } print $i }' "$f"
    done
}
uris=$(host_apt_uris | sed 's,/*$,,')
# The same mirror the host uses: deb.debian.org/debian if it is there (under whatever scheme),
# else any ".../debian" archive the host uses, else the default.
mirror=$(grep -m1 -E '^[a-z+]+://deb\.debian\.org/debian$' <<<"$uris" ||
    grep -m1 -E '^[a-z+]+://[^ ]*/debian$' <<<"$uris" || echo http://deb.debian.org/debian)
# Security updates only if the host gets them from somewhere (a guessed URL may not resolve).
security=$(grep -m1 -E '^[a-z+]+://[^ ]*/debian-security$' <<<"$uris" || true)

# The host's apt proxy and archive-validity settings, flattened by apt-config: a host behind a
# proxy, or on a frozen snapshot whose Release files have expired, needs the same inside.
host_apt_conf=$(apt-config dump 2>/dev/null |
    grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date)( |::)' || true)
http_proxy_host=$(sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' <<<"$host_apt_conf" | head -n1)

