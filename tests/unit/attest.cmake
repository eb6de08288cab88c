# Crypto and attestation half of libdstack (keys, quotes, event logs, attestations, certs).
dstack_unit_test(test_keys SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keys.c)
dstack_unit_test(test_quote_eventlog SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quote_eventlog.c)
dstack_unit_test(test_attestation SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attestation.c)
dstack_unit_test(test_cert_build SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cert_build.c)
dstack_unit_test(test_ccel SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ccel.c)
dstack_unit_test(test_fixtures SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fixtures.c)
dstack_unit_test(test_secp256k1_unload SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secp256k1_unload.c)
