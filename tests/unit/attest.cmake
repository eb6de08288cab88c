# Crypto and attestation half of libdstack (keys, quotes, event logs, attestations, certs).
# UPSTREAM: the program's cases about upstream data run as <name>_upstream (skipped without it).
dstack_unit_test(test_keys SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keys.c UPSTREAM)
dstack_unit_test(test_quote_eventlog SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quote_eventlog.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_attestation SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attestation.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_cert_build SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cert_build.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_ccel SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ccel.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_fixtures SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fixtures.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_secp256k1_unload SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secp256k1_unload.c)
dstack_unit_test(test_secp256k1_fork SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secp256k1_fork.c)
# 0.6: every platform variant, event log v2 (protocol.md §4.4.1, §4.5.4, §5.3.1).
dstack_unit_test(test_attestation_v06 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attestation_v06.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES})
