# Installs conf/ rendered with the installed paths: every @NAME@ placeholder of the templates
# (which the tests render with their own temporary paths, tests/integration/services_lib.sh)
# gets the value an installed system uses, so no installed file has a placeholder left. The
# "Placeholders (replace before use…)" heading of each file says what was filled in instead.

# Values every file shares.
set(_common
    "ENGINE=${DSTACK_OPENSSL_ENGINESDIR}/dstack.so"
    "PROVIDER_DIR=${DSTACK_OPENSSL_MODULESDIR}"
    "ENDPOINT=/var/run/dstack.sock"
    "TIMEOUT_MS=5000"
    "KEYTOOL=${CMAKE_INSTALL_FULL_BINDIR}/dstack-keytool"
    "OPENSSL_CONF=${DSTACK_CONF_INSTALL_DIR}/openssl-dstack.cnf"
    "RENEW=${DSTACK_CONF_INSTALL_DIR}/dstack-renew.sh"
    "SERVER_NAME=www.example.com"
    "PORT=443"
    "USER=www-data"
    "GROUP=www-data"
    "DOCROOT=/var/www/html")

# Per file (a glob relative to conf/): where a Debian system keeps that server's files.
set(_conf_nginx "PREFIX=/var/lib/nginx" "TLSDIR=/etc/nginx/dstack")
set(_conf_haproxy "TLSDIR=/etc/haproxy/dstack")
set(_conf_apache2 "PREFIX=/var/run/apache2" "TLSDIR=/etc/apache2/dstack")
set(_conf_lighttpd "PREFIX=/run/lighttpd" "TLSDIR=/etc/lighttpd/dstack")
set(_conf_stunnel "PREFIX=/run/stunnel4" "TLSDIR=/etc/stunnel/dstack")
set(_conf_postgresql "PREFIX=/var/lib/postgresql/15/dstack" "TLSDIR=/etc/postgresql/dstack" "PORT=5432")
set(_conf_redis "PREFIX=/var/lib/redis" "TLSDIR=/etc/redis/dstack" "PORT=6379")
set(_conf_postfix "PREFIX=/var/spool/postfix-dstack" "TLSDIR=/etc/postfix/dstack" "PORT=25")
set(_conf_sshd "PREFIX=/etc/ssh/dstack" "TLSDIR=/etc/ssh" "PORT=22")

file(GLOB_RECURSE _conf_files RELATIVE ${PROJECT_SOURCE_DIR}/conf CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/conf/*)
set(_rendered_root ${PROJECT_BINARY_DIR}/conf-installed)
foreach(_f ${_conf_files})
  set(_vals ${_common})
  foreach(_kind nginx haproxy apache2 lighttpd stunnel postgresql redis postfix sshd)
    if(_f MATCHES "(^|/)${_kind}")
      list(APPEND _vals ${_conf_${_kind}})
    endif()
  endforeach()
  if(_f MATCHES "^systemd/haproxy")
    list(APPEND _vals ${_conf_haproxy})
  elseif(_f MATCHES "^systemd/")
    list(APPEND _vals ${_conf_nginx})
  endif()
  file(READ ${PROJECT_SOURCE_DIR}/conf/${_f} _text)
  foreach(_kv ${_vals})
    string(REGEX MATCH "^([A-Z_]+)=(.*)$" _m "${_kv}")
    string(REPLACE "@${CMAKE_MATCH_1}@" "${CMAKE_MATCH_2}" _text "${_text}")
  endforeach()
  string(REPLACE "Placeholders (replace before use; the tests render them with sed):"
                 "Installed with these values (the source tree's conf/ has placeholders in their place):"
                 _text "${_text}")
  if(_text MATCHES "@[A-Z_]+@")
    message(FATAL_ERROR "conf/${_f}: a placeholder has no install value: ${CMAKE_MATCH_0}")
  endif()
  file(WRITE ${_rendered_root}/${_f}.tmp "${_text}")
  configure_file(${_rendered_root}/${_f}.tmp ${_rendered_root}/${_f} COPYONLY)
  file(REMOVE ${_rendered_root}/${_f}.tmp)
  get_filename_component(_dir ${_f} DIRECTORY)
  if(_f MATCHES "\\.(sh|py|js)$")
    install(PROGRAMS ${_rendered_root}/${_f} DESTINATION ${CMAKE_INSTALL_DATADIR}/dstack-openssl/conf/${_dir})
  else()
    install(FILES ${_rendered_root}/${_f} DESTINATION ${CMAKE_INSTALL_DATADIR}/dstack-openssl/conf/${_dir})
  endif()
endforeach()
