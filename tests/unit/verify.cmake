# Offline verification of TDX quotes and RA-TLS certificates (client/attest/quote_verify.c,
# client/attest/ratls_verify.c) and `dstack-keytool verify`.
dstack_unit_test(test_quote_verify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quote_verify.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
dstack_unit_test(test_ratls_cert_verify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ratls_cert_verify.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES})
dstack_script_test(keytool_verify integration/keytool_verify.sh TIMEOUT 120)
dstack_script_test(keytool_verify_upstream integration/keytool_verify.sh ARGS upstream
                   LABELS upstream TIMEOUT 120)
dstack_unit_test(test_quote_forgery SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quote_forgery.c
                 ${DSTACK_TEST_EVIDENCE_SOURCES})
# DCAP verification with Intel collateral (client/attest/dcap_*.c, collateral.c) on collateral
# forged under a test root; _upstream: dcap-qvl's samples.
dstack_unit_test(test_dcap_verify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dcap_verify.c
                 ${CMAKE_CURRENT_LIST_DIR}/dcap_world.c ${DSTACK_TEST_EVIDENCE_SOURCES} UPSTREAM)
# The DCAP verifier's inputs: bad collateral JSON, usage errors, the verifier's set-up.
dstack_unit_test(test_dcap_inputs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dcap_inputs.c
                 ${CMAKE_CURRENT_LIST_DIR}/dcap_world.c ${DSTACK_TEST_EVIDENCE_SOURCES})
# RA-TLS verification with collateral end to end: dstack-sim --pccs, openssl s_server, verify
# --connect, examples/ratls_client (client/verify/, tools/keytool_connect.c).
dstack_script_test(ratls_verify integration/ratls_verify.sh TIMEOUT 300 LABELS "sim;provider")
