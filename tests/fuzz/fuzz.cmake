# Fuzz harnesses (LLVMFuzzerTestOneInput), built two ways:
#  - always: linked with driver.c, which replays the seeds (those gen_seeds makes at build
#    time, the hand-written seeds/<harness>/ files, and the upstream fixtures read in place
#    when they are present) and then runs deterministic mutations for a short time budget;
#    registered as ctest tests, so they run in the plain and sanitizer passes;
#  - with -DDSTACK_FUZZ=ON and clang: real libFuzzer binaries fuzz_<harness>
#    (-fsanitize=fuzzer,address,undefined), e.g.
#      CC=/usr/bin/clang cmake -S . -B build/lf -DDSTACK_FUZZ=ON && cmake --build build/lf
#      ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=tests/fuzz/lsan-fuzz.supp \
#        build/lf/tests/fuzz_uri -max_total_time=60 CORPUS_DIR
option(DSTACK_FUZZ "Build libFuzzer binaries (needs clang)" OFF)
set(DSTACK_FUZZ_SECONDS 2 CACHE STRING "Mutation time budget per harness in the test run")

set(_fz ${CMAKE_CURRENT_LIST_DIR})
# Seeds of the project's own making for every harness (gen_seeds.c: forged quotes with a PCK
# chain, V0/V1 attestations, event logs, CCEL tables, RA-TLS certificates, agent replies,
# reference-PEM DER, URIs), regenerated whenever the generator changes.
set(_gen ${CMAKE_CURRENT_BINARY_DIR}/fuzz-seeds)
add_executable(gen_seeds ${_fz}/gen_seeds.c ${DSTACK_TEST_EVIDENCE_SOURCES})
target_include_directories(gen_seeds PRIVATE ${PROJECT_SOURCE_DIR}/tests/lib ${_fz})
target_link_libraries(gen_seeds PRIVATE dstack_agent_side dstack_static)
add_custom_command(OUTPUT ${_gen}/stamp
                   COMMAND ${CMAKE_COMMAND} -E rm -rf ${_gen}
                   COMMAND gen_seeds ${_gen}
                   COMMAND ${CMAKE_COMMAND} -E touch ${_gen}/stamp
                   DEPENDS gen_seeds
                   COMMENT "Generating fuzz seeds in ${_gen}")
add_custom_target(fuzz_seeds ALL DEPENDS ${_gen}/stamp)
# Upstream data (tests/CMakeLists.txt) as further seeds when present: an opt: seed is skipped,
# with one line saying which file is missing, when its file is absent.
set(_fx ${DSTACK_FIXTURES}/dstack)
set(_seeds_uri "dir:${_gen}/uri" "dir:${_fz}/seeds/uri")
set(_seeds_attestation "dir:${_gen}/attestation" "dir:${_fz}/seeds/attestation"
    "opt:file:${_fx}/attestation.bin" "opt:json-hex:${_fx}/tdx-lite-attestation.json:attestation")
set(_seeds_eventlog "dir:${_gen}/eventlog" "dir:${_fz}/seeds/eventlog"
    "opt:json-str:${_fx}/quote-report.json:event_log"
    "opt:json-str:${_fx}/tdx-lite-getquote.json:event_log")
set(_seeds_quote "dir:${_gen}/quote" "dir:${_fz}/seeds/quote" "opt:file:${_fx}/tdx_quote"
    "opt:json-hex:${_fx}/quote-report.json:quote" "opt:json-hex:${_fx}/tdx-lite-getquote.json:quote")
set(_seeds_ccel "dir:${_gen}/ccel" "dir:${_fz}/seeds/ccel" "opt:file:${_fx}/ccel.bin")
set(_seeds_keyref "dir:${_gen}/keyref" "dir:${_fz}/seeds/keyref")
# ratls: mode byte 00 = certificate DER, 01 = .1.8 attestation, 02 + LE16 length = .1.1 quote
# + .1.2 event log
set(_seeds_ratls "dir:${_gen}/ratls" "dir:${_fz}/seeds/ratls" "opt:hex:01+file:${_fx}/attestation.bin"
    "opt:hex:01+json-hex:${_fx}/tdx-lite-attestation.json:attestation"
    "opt:hex:028e13+file:${_fx}/tdx_quote+json-str:${_fx}/tdx-lite-getquote.json:event_log")
set(_seeds_json "dir:${_gen}/json" "dir:${_fz}/seeds/json" "opt:file:${_fx}/quote-report.json"
    "opt:file:${_fx}/tdx-lite-getquote.json" "opt:file:${_fx}/tdx-lite-attestation.json"
    "opt:file:${_fx}/appkeys.json" "opt:file:${_fx}/sys-config.json"
    "opt:file:${_fx}/app-compose.json")

# Intel collateral (protocol.md §5.6–§5.7), and dcap-qvl's samples when present.
set(_dq ${DSTACK_FIXTURES}/dcap-qvl)
set(_seeds_collateral "dir:${_gen}/collateral" "opt:file:${_dq}/tdx_quote_collateral.json"
    "opt:file:${_dq}/tdx_quote_outdated_collateral.json")
set(_seeds_tcb_info "dir:${_gen}/tcb_info" "opt:json-str:${_dq}/tdx_quote_collateral.json:tcb_info"
    "opt:json-str:${_dq}/tdx_quote_outdated_collateral.json:tcb_info")
set(_seeds_qe_identity "dir:${_gen}/qe_identity"
    "opt:json-str:${_dq}/tdx_quote_collateral.json:qe_identity")
set(_seeds_crl "dir:${_gen}/crl" "opt:json-hex:${_dq}/tdx_quote_collateral.json:root_ca_crl"
    "opt:json-hex:${_dq}/tdx_quote_collateral.json:pck_crl")
# The harnesses that verify against a forged Intel (dcap_world.h) need the forge.
set(DSTACK_FUZZ_DCAP_HARNESSES collateral tcb_info qe_identity crl)
set(_dcap_sources ${PROJECT_SOURCE_DIR}/tests/lib/quote_forge.c
    ${PROJECT_SOURCE_DIR}/tests/lib/collateral_forge.c)

# http: the in-house HTTP client's response parser; byte 0 piece size, byte 1 body cap.
set(_seeds_http "dir:${_fz}/seeds/http")

set(DSTACK_FUZZ_HARNESSES uri attestation eventlog quote ccel keyref ratls json http
    ${DSTACK_FUZZ_DCAP_HARNESSES})

foreach(h ${DSTACK_FUZZ_HARNESSES})
  set(_extra "")
  if(h IN_LIST DSTACK_FUZZ_DCAP_HARNESSES)
    set(_extra ${_dcap_sources})
  endif()
  add_executable(fuzz_replay_${h} ${_fz}/fuzz_${h}.c ${_fz}/driver.c ${_extra})
  target_include_directories(fuzz_replay_${h} PRIVATE ${PROJECT_SOURCE_DIR}/tests/lib)
  target_link_libraries(fuzz_replay_${h} PRIVATE dstack_agent_side dstack_static)
  add_dependencies(fuzz_replay_${h} fuzz_seeds)
  add_test(NAME fuzz_${h} COMMAND fuzz_replay_${h} --seconds ${DSTACK_FUZZ_SECONDS} ${_seeds_${h}})
  set_tests_properties(fuzz_${h} PROPERTIES ENVIRONMENT "${DSTACK_TEST_ENV}" TIMEOUT 120
                       LABELS "unit;fuzz")
endforeach()

if(DSTACK_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DSTACK_FUZZ=ON needs clang (CC=/usr/bin/clang)")
  endif()
  # libdstack again, instrumented for coverage-guided fuzzing.
  set(_fuzz_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  file(GLOB _client_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/client/*/*.c)
  add_library(dstack_fuzz_objects STATIC ${_client_sources})
  target_include_directories(dstack_fuzz_objects PUBLIC ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/client)
  target_compile_options(dstack_fuzz_objects PRIVATE -fsanitize=fuzzer-no-link ${_fuzz_flags})
  target_link_libraries(dstack_fuzz_objects PUBLIC PkgConfig::OPENSSL PkgConfig::CURL
                        PkgConfig::JSONC PkgConfig::SECP256K1 Threads::Threads)
  foreach(h ${DSTACK_FUZZ_HARNESSES})
    set(_extra "")
    if(h IN_LIST DSTACK_FUZZ_DCAP_HARNESSES)
      set(_extra ${_dcap_sources})
    endif()
    add_executable(fuzz_${h} ${_fz}/fuzz_${h}.c ${_extra})
    target_include_directories(fuzz_${h} PRIVATE ${PROJECT_SOURCE_DIR}/tests/lib)
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${_fuzz_flags})
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${_fuzz_flags})
    target_link_libraries(fuzz_${h} PRIVATE dstack_fuzz_objects)
  endforeach()
endif()
