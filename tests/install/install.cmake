# `cmake --install` into a temporary prefix yields a usable libdstack (pkg-config), provider,
# engine, tools, man page and conf files.
dstack_script_test(install_tree install/install.sh LABELS install TIMEOUT 300)
