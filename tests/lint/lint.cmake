# Mechanical properties of the tree and of the built modules.
dstack_script_test(lint_code_format lint/code_format.sh LABELS lint TIMEOUT 120)
dstack_script_test(lint_exported_symbols lint/exported_symbols.sh LABELS lint TIMEOUT 60)
# The leak checks of run-test.sh and scripts/test.sh catch a leaked process.
dstack_script_test(lint_leftover_check lint/leftover_check.sh LABELS lint TIMEOUT 60)
# Every § citation names a section of a document in docs/; the upstream data directory is
# named once.
dstack_script_test(lint_doc_refs lint/doc_refs.sh LABELS lint TIMEOUT 60)
