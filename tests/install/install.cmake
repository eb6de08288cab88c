# `cmake --install` into a temporary prefix yields a usable libdstack (pkg-config), provider,
# engine, tools, man page and conf files.
dstack_script_test(install_tree install/install.sh LABELS install TIMEOUT 300)
# Debian packages built, installed into a clean Debian 12 chroot (cached base under
# build/debian12-packages), serving TLS there with no environment variable. Slow the first
# time (debootstrap), about a minute after.
dstack_script_test(debian_packages install/debian_packages.sh LABELS install TIMEOUT 1500)
