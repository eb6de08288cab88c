# URI grammar and URI resolution (client/resolve/).
set(_resolve_dir ${CMAKE_CURRENT_LIST_DIR})
dstack_unit_test(test_uri SOURCES ${_resolve_dir}/test_uri.c)
# Against dstack-sim's development identity (DSTACK_DEV_*).
dstack_unit_test(test_resolve
  SOURCES ${_resolve_dir}/test_resolve.c ${_resolve_dir}/test_resolve_util.c
  SIM "")
# Certificate RPCs (and Info) broken: key-only loads must not touch them.
dstack_unit_test(test_resolve_faults_certs
  SOURCES ${_resolve_dir}/test_resolve_faults.c ${_resolve_dir}/test_resolve_util.c
  SIM "--fault DeriveKey=status:500 --fault Attest=status:500 --fault GetQuote=status:500 --fault Info=status:503")
set_property(TEST test_resolve_faults_certs APPEND PROPERTY ENVIRONMENT RESOLVE_FAULT_SUITE=certs)
dstack_unit_test(test_resolve_faults_timeout
  SOURCES ${_resolve_dir}/test_resolve_faults.c ${_resolve_dir}/test_resolve_util.c
  SIM "--fault GetKey=delay:3000")
set_property(TEST test_resolve_faults_timeout APPEND PROPERTY ENVIRONMENT RESOLVE_FAULT_SUITE=timeout)
dstack_unit_test(test_resolve_faults_close
  SOURCES ${_resolve_dir}/test_resolve_faults.c ${_resolve_dir}/test_resolve_util.c
  SIM "--fault GetKey=close")
set_property(TEST test_resolve_faults_close APPEND PROPERTY ENVIRONMENT RESOLVE_FAULT_SUITE=close)
# Every RPC alone fits the timeout, the whole resolution does not; fork during a resolution.
dstack_unit_test(test_resolve_faults_deadline
  SOURCES ${_resolve_dir}/test_resolve_faults.c ${_resolve_dir}/test_resolve_util.c
  SIM "--fault Info=delay:700 --fault GetKey=delay:1200 --fault DeriveKey=delay:700")
set_property(TEST test_resolve_faults_deadline APPEND PROPERTY ENVIRONMENT RESOLVE_FAULT_SUITE=deadline)
# Hostile agent replies from a canned server inside the test (no simulator).
dstack_unit_test(test_resolve_hostile SOURCES ${_resolve_dir}/test_resolve_hostile.c)
dstack_unit_test(test_config SOURCES ${_resolve_dir}/test_config.c)
