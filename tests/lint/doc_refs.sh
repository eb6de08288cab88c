#!/usr/bin/env bash
# Every "§" citation in code, tests, conf and docs names a document of this repository and a
# section that exists in it ("protocol.md §4.5.3" → a heading "#### 4.5.3 …" in
# docs/protocol.md; "§10 item 5" → §10.5); the folder of upstream data beside a checkout
# (dot-dot, then "shared") is named in exactly one place, the default of the fixtures setting.
source "$(dirname "$0")/../lib/common.sh"
require python3 git
cd "$DSTACK_SOURCE_DIR"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || skip "not a git checkout (needs git ls-files)"

cat >"$DSTACK_TMP/refs.py" <<'PY'
import os, re, sys
docs = {}
for name in os.listdir("docs"):
    if name.endswith(".md"):
        heads = set()
        for line in open(os.path.join("docs", name), encoding="utf-8"):
            m = re.match(r"#{2,4} (\d+(?:\.\d+)*)\.? ", line)
            if m:
                heads.add(m.group(1))
        docs[name] = heads
cite = re.compile(r"(?:([\w-]+\.md) )?§(\d+(?:\.\d+)*)(?: item (\d+))?")
bad = 0
for path in sys.argv[1:]:
    if not os.path.isfile(path):
        continue
    try:
        text = open(path, encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    for no, line in enumerate(text.splitlines(), 1):
        current = os.path.basename(path) if path.startswith("docs/") else None
        for m in cite.finditer(line):
            doc, sec, item = m.group(1), m.group(2).rstrip("."), m.group(3)
            if doc is not None:
                current = doc
            if current is None:
                if "Profile" in line[:m.start()]:  # an outside standard's section
                    continue
                print(f"{path}:{no}: §{sec} names no document: {line.strip()}")
                bad += 1
                continue
            if current not in docs:
                if "Profile" in line[:m.start()]:
                    continue
                print(f"{path}:{no}: {current} is not a document in docs/")
                bad += 1
                continue
            want = f"{sec}.{item}" if item else sec
            if want not in docs[current] and sec not in docs[current]:
                print(f"{path}:{no}: {current} has no section {want}")
                bad += 1
print(f"checked; {bad} bad")
PY
# This script itself quotes the forms it checks, so it is left out of every search.
self=tests/lint/doc_refs.sh
out=$(git ls-files -z -- ":!$self" | xargs -0 python3 "$DSTACK_TMP/refs.py")
assert_contains "every § citation resolves" "$out" "checked; 0 bad"
[ "${out%checked*}" == "" ] || log "$out"
check "no DESIGN § citation" bash -c "! git grep -q 'DESIGN §' -- ':!$self'"
upstream_dir='\.\.''/shared'
shared=$(git grep -l "$upstream_dir" -- ':!*.md' ":!$self" | tr '\n' ' ')
assert_eq "the upstream data folder is named in one place" "tests/CMakeLists.txt " "$shared"
finish
