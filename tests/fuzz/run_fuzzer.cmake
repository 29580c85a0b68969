# The `fuzz.onnx_reader` test: builds tests/fuzz/onnx_fuzzer.cpp with clang's libFuzzer, ASan and UBSan, replays the
# saved regression inputs, then fuzzes for FUZZ_SECONDS seeded with the ONNX fixtures. Without clang + libFuzzer
# (Debian's clang-14 and libclang-rt-14-dev) it prints "FUZZER SKIPPED" and the test is reported as skipped.
# A finding fails the test and names the input file: add it to tests/fuzz/onnx_regressions/ once fixed.
# Arguments (-D): SOURCE_DIR, WORK_DIR, FUZZ_SECONDS.
find_program(CLANGXX NAMES clang++-14 clang++)
if(NOT CLANGXX)
  message("FUZZER SKIPPED: no clang++ found (install clang-14 and libclang-rt-14-dev)")
  return()
endif()
file(MAKE_DIRECTORY ${WORK_DIR})
set(exe ${WORK_DIR}/onnx_fuzzer)
execute_process(
  COMMAND ${CLANGXX} -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
          -I${SOURCE_DIR}/include -isystem /usr/include/eigen3 ${SOURCE_DIR}/tests/fuzz/onnx_fuzzer.cpp -o ${exe}
  RESULT_VARIABLE built ERROR_VARIABLE build_log)
if(NOT built EQUAL 0)
  if(build_log MATCHES "libclang_rt\\.fuzzer|cannot find.*fuzzer|unsupported option '-fsanitize=fuzzer")
    message("FUZZER SKIPPED: ${CLANGXX} has no libFuzzer runtime (install libclang-rt-14-dev)")
    return()
  endif()
  message(FATAL_ERROR "building the fuzzer failed:\n${build_log}")
endif()

# Replay every saved regression input once.
file(GLOB regressions ${SOURCE_DIR}/tests/fuzz/onnx_regressions/*)
list(FILTER regressions EXCLUDE REGEX "README")
if(regressions)
  execute_process(COMMAND ${exe} ${regressions} RESULT_VARIABLE replayed OUTPUT_QUIET ERROR_VARIABLE replay_log)
  if(NOT replayed EQUAL 0)
    message(FATAL_ERROR "a saved regression input fails again:\n${replay_log}")
  endif()
endif()

# Fresh corpus seeded with the small fixtures (big torch exports would only slow every mutation down).
set(corpus ${WORK_DIR}/corpus)
file(REMOVE_RECURSE ${corpus})
file(MAKE_DIRECTORY ${corpus})
file(GLOB seeds ${SOURCE_DIR}/tests/io/onnx_fixtures/*.onnx)
foreach(seed IN LISTS seeds)
  file(SIZE ${seed} seed_size)
  if(seed_size LESS 65536)
    file(COPY ${seed} DESTINATION ${corpus})
  endif()
endforeach()
execute_process(
  COMMAND ${exe} ${corpus} -max_total_time=${FUZZ_SECONDS} -max_len=65536 -rss_limit_mb=2048 -timeout=10
          -artifact_prefix=${WORK_DIR}/ -print_final_stats=1
  RESULT_VARIABLE fuzzed OUTPUT_VARIABLE fuzz_out ERROR_VARIABLE fuzz_log)
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" runs "${fuzz_log}")
if(NOT fuzzed EQUAL 0)
  file(GLOB found ${WORK_DIR}/crash-* ${WORK_DIR}/leak-* ${WORK_DIR}/timeout-* ${WORK_DIR}/oom-*)
  message(FATAL_ERROR "the fuzzer found a failing input: ${found}\n${fuzz_log}")
endif()
message("fuzzed the ONNX reader for ${FUZZ_SECONDS} s without a finding (${runs})")
