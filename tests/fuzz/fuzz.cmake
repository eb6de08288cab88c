# Fuzz harnesses (LLVMFuzzerTestOneInput), built two ways:
#  - always: linked with driver.c, which replays the seeds (fixtures read in place + the
#    hand-written seeds/<harness>/ files) and then runs deterministic mutations for a short
#    time budget; registered as ctest tests, so they run in the plain and sanitizer passes;
#  - with -DDSTACK_FUZZ=ON and clang: real libFuzzer binaries fuzz_<harness>
#    (-fsanitize=fuzzer,address,undefined), e.g.
#      CC=/usr/bin/clang cmake -S . -B build/lf -DDSTACK_FUZZ=ON && cmake --build build/lf
#      ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=tests/fuzz/lsan-fuzz.supp \
#        build/lf/tests/fuzz_uri -max_total_time=60 CORPUS_DIR
option(DSTACK_FUZZ "Build libFuzzer binaries (needs clang)" OFF)
set(DSTACK_FUZZ_SECONDS 2 CACHE STRING "Mutation time budget per harness in the test run")

set(_fz ${CMAKE_CURRENT_LIST_DIR})
set(_fx ${DSTACK_FIXTURES})
set(_seeds_uri "dir:${_fz}/seeds/uri")
set(_seeds_attestation "file:${_fx}/attestation.bin" "json-hex:${_fx}/tdx-lite-attestation.json:attestation"
    "dir:${_fz}/seeds/attestation")
set(_seeds_eventlog "json-str:${_fx}/quote-report.json:event_log"
    "json-str:${_fx}/tdx-lite-getquote.json:event_log" "dir:${_fz}/seeds/eventlog")
set(_seeds_quote "file:${_fx}/tdx_quote" "json-hex:${_fx}/quote-report.json:quote"
    "json-hex:${_fx}/tdx-lite-getquote.json:quote" "dir:${_fz}/seeds/quote")
set(_seeds_ccel "file:${_fx}/ccel.bin" "dir:${_fz}/seeds/ccel")
set(_seeds_keyref "dir:${_fz}/seeds/keyref")
# ratls: mode byte 01 = .1.8 attestation, 02 + LE16 length = .1.1 quote + .1.2 event log
set(_seeds_ratls "hex:01+file:${_fx}/attestation.bin"
    "hex:01+json-hex:${_fx}/tdx-lite-attestation.json:attestation"
    "hex:028e13+file:${_fx}/tdx_quote+json-str:${_fx}/tdx-lite-getquote.json:event_log"
    "dir:${_fz}/seeds/ratls")
set(_seeds_json "file:${_fx}/quote-report.json" "file:${_fx}/tdx-lite-getquote.json"
    "file:${_fx}/tdx-lite-attestation.json" "file:${_fx}/appkeys.json"
    "file:${_fx}/sys-config.json" "file:${_fx}/app-compose.json" "dir:${_fz}/seeds/json")

set(DSTACK_FUZZ_HARNESSES uri attestation eventlog quote ccel keyref ratls json)

foreach(h ${DSTACK_FUZZ_HARNESSES})
  add_executable(fuzz_replay_${h} ${_fz}/fuzz_${h}.c ${_fz}/driver.c)
  target_link_libraries(fuzz_replay_${h} PRIVATE dstack_static)
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
    add_executable(fuzz_${h} ${_fz}/fuzz_${h}.c)
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${_fuzz_flags})
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${_fuzz_flags})
    target_link_libraries(fuzz_${h} PRIVATE dstack_fuzz_objects)
  endforeach()
endif()
