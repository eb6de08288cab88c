# libdstack agent client (client/agent/: transport, batch, endpoint, JSON codec, RPCs).
# The growing text buffer of libdstack's writers (client/base/text.c).
dstack_unit_test(test_text SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_text.c)
dstack_unit_test(test_client_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_json.c)
dstack_unit_test(test_client_endpoint SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_endpoint.c)
# Decoding of bodies the simulator never sends, from a canned HTTP server inside the test.
dstack_unit_test(test_client_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_decode.c)
# The in-house HTTP/1.1 client against hostile replies from a raw server inside the test.
dstack_unit_test(test_client_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_http.c)
# dstack-sim's development identity; _upstream: the official appkeys.json (protocol.md §9 V2).
dstack_unit_test(test_client_rpc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_rpc.c SIM ""
                 UPSTREAM UPSTREAM_SIM "--appkeys @FIXTURES@/dstack/appkeys.json")
dstack_unit_test(test_client_faults SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_faults.c
                 SIM "--fault GetKey=delay:3000 --fault Info=status:503 --fault Attest=garbage --fault Version=truncate --fault Sign=close --fault GetQuote=oversize")
# The README's library example: builds, and prints Info + a GetKey public key from the simulator.
add_test(NAME example_agent_info
         COMMAND ${DSTACK_RUN_TEST} 60 -- ${PROJECT_SOURCE_DIR}/tests/lib/with-sim.sh
                 -- $<TARGET_FILE:example-agent_info> tls/web)
dstack_test_properties(example_agent_info 60 "unit;client")
set_tests_properties(example_agent_info PROPERTIES
                     FAIL_REGULAR_EXPRESSION "Sanitizer|runtime error|agent_info:"
                     PASS_REGULAR_EXPRESSION "app_id +${DSTACK_DEV_APP_ID}\n(.|\n)*secp256k1 pub +0[23][0-9a-f]+\nchain entries +2")
# Without an agent the example fails with the connection message, naming method and socket.
add_test(NAME example_agent_info_no_agent
         COMMAND ${DSTACK_RUN_TEST} 30 -- $<TARGET_FILE:example-agent_info>)
dstack_test_properties(example_agent_info_no_agent 30 "unit;client")
set_tests_properties(example_agent_info_no_agent PROPERTIES
                     ENVIRONMENT "${DSTACK_TEST_ENV};DSTACK_SIMULATOR_ENDPOINT=/nonexistent/dstack.sock"
                     PASS_REGULAR_EXPRESSION "agent_info: Info on /nonexistent/dstack.sock: no such socket \\(is the dstack agent running\\?\\) \\(connection\\)")
# No key hex left in freed heap memory (malloc/free interposed in the test; skipped under ASan).
dstack_unit_test(test_client_secrets SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_secrets.c)
set_tests_properties(test_client_secrets PROPERTIES SKIP_RETURN_CODE 77)
# The RPCs that differ between agent releases, against each emulated release with a guest
# socket (protocol.md §0, §2.6).
foreach(_rel 0.4 0.5.5 0.5.11 0.6)
  string(REPLACE "." "" _tag ${_rel})
  if(_rel STREQUAL "0.4")
    dstack_unit_test(test_client_releases SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_releases.c
                     SIM "--agent-version ${_rel}")
    set(_t test_client_releases)
  else()
    set(_t test_client_releases_v${_tag})
    add_test(NAME ${_t}
             COMMAND ${DSTACK_RUN_TEST} 120 -- ${PROJECT_SOURCE_DIR}/tests/lib/with-sim.sh
                     --agent-version ${_rel} -- $<TARGET_FILE:test_client_releases>)
    dstack_test_properties(${_t} 120 "unit;client")
  endif()
  set_property(TEST ${_t} APPEND PROPERTY ENVIRONMENT DSTACK_TEST_RELEASE=${_rel})
endforeach()
