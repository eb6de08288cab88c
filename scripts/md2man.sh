#!/usr/bin/env bash
# md2man.sh <in.md> <out.N> [NAME SECTION "ONE-LINE DESCRIPTION"] — renders the small Markdown
# subset of docs/*.md as roff man(7):
#   "# name section "footer" "title"" → .TH; "## X" → .SH; "### X" → .SS; ``` blocks → .EX;
#   tables → .TP entries (first cell as the tag); "* " bullets → .IP; `code` → bold.
# A document written as a README (dstack-keytool.md, dstack-sim.md: no "# name section" line)
# gets its .TH and NAME section from the three extra arguments; its own "# " title is dropped.
# Only awk and sed: no build dependency beyond a POSIX system.
set -euo pipefail
in=$1 out=$2
name=${3:-} section=${4:-} desc=${5:-}
awk -v name="$name" -v section="$section" -v desc="$desc" '
function inline(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    while (match(s, /`[^`]*`/)) {
        s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
    }
    while (match(s, /\*[^* ][^*]*\*/)) {
        s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
    }
    if (s ~ /^[.\047]/) s = "\\&" s
    return s
}
function cell(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
BEGIN {
    code = 0; para = 0; header = 0
    if (name != "") {
        print ".TH " toupper(name) " " section " \"dstack-openssl\" \"" desc "\""
        print ".SH NAME"
        print name " \\- " desc
    }
}
/^```/ { if (code) { print ".EE"; code = 0 } else { print ".EX"; code = 1 }; next }
code { line = $0; gsub(/\\/, "\\e", line); if (line ~ /^[.\047]/) line = "\\&" line; print line; next }
/^# / { if (name == "") { sub(/^# /, ""); print ".TH " $0 }; next }
/^## / { sub(/^## /, ""); print ".SH " toupper($0); header = 0; next }
/^### / { sub(/^### /, ""); print ".SS " $0; next }
/^\|/ {
    n = split($0, c, "|")
    if (c[2] ~ /^ *-+ *$/) next
    if (!header) { header = 1; next }     # the table header row
    print ".TP"
    print inline(cell(c[2]))
    text = ""
    for (i = 3; i < n; i++) text = text (i > 3 ? " \\(em " : "") inline(cell(c[i]))
    print text
    next
}
/^\* / { sub(/^\* /, ""); print ".IP \\(bu 2"; print inline($0); next }
/^$/ { header = 0; print ".PP"; next }
{ print inline($0) }
' "$in" | sed -e '/^\.PP$/{N;/^\.PP\n\.PP$/D}' >"$out"
