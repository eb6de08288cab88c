# Recipes (docs/recipes.md): every TLS server and client a user already runs, from Debian's
# packages, with the conf/ file the recipe documents. Each script starts its own dstack-sim and
# servers on loopback and stops them.
foreach(_recipe apache2 lighttpd nginx_client_cert nodejs openssh postfix postgresql python redis stunnel)
  dstack_script_test(recipe_${_recipe} integration/recipe_${_recipe}.sh LABELS recipes TIMEOUT 180)
endforeach()
