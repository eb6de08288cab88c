# Mechanical properties of the tree and of the built modules.
dstack_script_test(lint_code_format lint/code_format.sh LABELS lint TIMEOUT 120)
dstack_script_test(lint_exported_symbols lint/exported_symbols.sh LABELS lint TIMEOUT 60)
