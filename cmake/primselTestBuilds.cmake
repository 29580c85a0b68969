# The test suite's other builds, part of the one test command (issue 11): the same sources built again
#   - under AddressSanitizer + UndefinedBehaviorSanitizer (the input-facing tests; reduced sweeps, -O0),
#   - under ThreadSanitizer (the threaded parts: thread pool, concurrent run(), pipelines),
#   - for aarch64 with Debian's cross compiler, run under qemu-user (every test program; reduced sweeps),
# each an ExternalProject of this source tree (nothing is downloaded) built by `cmake --build` alongside the main build
# (they share make's job slots) and run by one ctest case each: sanitize.asan_ubsan, sanitize.tsan, cross.aarch64.
# A missing cross compiler or emulator skips that build with a warning (cmake/install-deps.sh installs them).
# -DPRIMSEL_TEST_BUILDS=OFF leaves them all out (a quicker local edit-build-test loop).
include(ExternalProject)

# What every nested build shares: tests only (no benchmarks, examples or nested builds of its own).
set(primsel_nested_args -DPRIMSEL_BUILD_BENCHMARKS=OFF -DPRIMSEL_BUILD_EXAMPLES=OFF -DPRIMSEL_TEST_BUILDS=OFF
                        -DPRIMSEL_TEST_REDUCED=ON)
# Tests that drive the build machine's own tools (host compiler, clang's fuzzer, primsel-bench) or check the version
# string say nothing new in another build: not built, not run.
set(primsel_nested_exclude "^(package|fuzz|bench|examples)[.]|^version$")

# primsel_test_build(<name> <ctest name> TESTS <ctest name regex> TIMEOUT <s> COST <s> ARGS <cmake args>...)
# The nested build compiles only the test files of the tests it runs (PRIMSEL_TEST_ONLY, tests/CMakeLists.txt).
function(primsel_test_build name test_name)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "TESTS;TIMEOUT;COST" "ARGS")
  set(dir ${PROJECT_BINARY_DIR}/${name})
  ExternalProject_Add(${name}
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${dir}
    CMAKE_ARGS ${primsel_nested_args} ${arg_ARGS}
    # A cache entry, not a -D argument: the regex's | and $ stay out of the shell. ("[.]", not "\.": the entry is
    # written into a CMake script, where "\." is an invalid escape.)
    CMAKE_CACHE_ARGS "-DPRIMSEL_TEST_ONLY:STRING=${arg_TESTS}" "-DPRIMSEL_TEST_EXCLUDE:STRING=${primsel_nested_exclude}"
    # $(MAKE): the nested make joins the outer one's job server, so `cmake --build build -j2` means 2 jobs in all.
    BUILD_COMMAND $(MAKE)
    BUILD_ALWAYS TRUE   # the nested build decides what is out of date
    INSTALL_COMMAND ""
    EXCLUDE_FROM_ALL FALSE)
  # Two cases at a time: the native cases finish within minutes, and the nested suites (aarch64 under qemu: 10+
  # minutes of serial cases) would otherwise leave the second core idle.
  add_test(NAME ${test_name}
           COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${dir} --output-on-failure -j2 -R "${arg_TESTS}" -E "${primsel_nested_exclude}")
  # The longest cases: started first (ctest -j2 runs the highest COST first), so none is left running alone at the end.
  # COST is the case's measured seconds (tests/CMakeLists.txt, "slowest cases"): with one COST for all three, ctest
  # started them in definition order and cross.aarch64, the longest (372 s), only when ASan's finished (83 s later).
  set_tests_properties(${test_name} PROPERTIES TIMEOUT ${arg_TIMEOUT} COST ${arg_COST})
endfunction()

# Sanitizers: GCC's (libasan/libubsan/libtsan come with g++). Any report fails the test: UBSan does not recover,
# ASan and TSan exit non-zero by default. GCC 12's middle-end (maybe-)uninitialized warnings fire inside
# avx512fintrin.h at -O1 under instrumentation (GCC PR 105593, as for Eigen in CMakeLists.txt): off in these builds.
# ASan + UBSan at -O0: its tests exercise input handling, not speed, and -O1 doubled the build's compile time
# (test_runtime 162 CPU-s, the Catch main 56). TSan at -O1 (its pipeline and pool tests run many inferences), with
# the default primitives' kernels at -O0 (PRIMSEL_DEFAULT_CANDIDATES_OPTIONS, CMakeLists.txt).
set(primsel_san_flags "-g1 -DNDEBUG -Wno-uninitialized -Wno-maybe-uninitialized")
set(primsel_san_common -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 ${primsel_san_flags}"
    -DPRIMSEL_DEFAULT_CANDIDATES_OPTIONS=-O0)
set(primsel_asan_common -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 ${primsel_san_flags}")
# ASan + UBSan on the parts that take outside input (ONNX/protobuf reader, caches, predictor files, graph building,
# bad input through bound networks), the ops and u8 ops, the GEMM core and Winograd (the micro-kernel reads A in
# place, up to the matrix's last float; Winograd's V planes are that A: 22 s to build and 24 s to run here). Not
# yet: the conv primitives' shape sweeps and runtime.network (18 min under ASan here; it found an out-of-range read
# in bind_binding, fixed) — they need reduced variants first.
set(primsel_asan_tests
    core.error core.layout_convert core.tensor core.thread_pool
    graph.builder graph.conv_desc graph.op graph.passes graph.shape_inference graph.subgraph
    io.protobuf io.onnx_import io.onnx_regressions io.onnx_tensor
    quant.calibrate quant.quantize predict.latency_predictor predict.rank_stats search.searchers
    runtime.tuning_cache runtime.reference_executor runtime.bad_input
    primitives.gemm primitives.winograd primitives.ops.concat primitives.ops.eltwise primitives.ops.fully_connected
    primitives.ops.pooling primitives.ops.softmax primitives.int8.ops_u8 select.input_features select.knn_premodel)
list(JOIN primsel_asan_tests "|" primsel_asan_regex)
string(REPLACE "." "[.]" primsel_asan_regex "${primsel_asan_regex}")
primsel_test_build(primsel_asan sanitize.asan_ubsan TESTS "^(${primsel_asan_regex})$" TIMEOUT 1800 COST 83
  ARGS ${primsel_asan_common}
       "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
primsel_test_build(primsel_tsan sanitize.tsan
  TESTS "^(core[.]thread_pool|runtime[.]concurrent_run|runtime[.]pipeline)$" TIMEOUT 900 COST 102
  ARGS ${primsel_san_common} "-DCMAKE_CXX_FLAGS=-fsanitize=thread" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread")

# aarch64 under qemu-user (cmake/toolchains/aarch64-linux-gnu.cmake, docs/arm.md).
find_program(PRIMSEL_AARCH64_GXX aarch64-linux-gnu-g++)
find_program(PRIMSEL_QEMU_AARCH64_HOST qemu-aarch64)
# Every test folder whose code can behave differently on Arm: the kernels (NEON, sdot), quantisation, the network
# and its files (the ONNX and protobuf readers: char is unsigned on aarch64), graphs and the zoo. Left out: the
# search, selection and predictor folders — plain C++ over measured numbers and text files, no SIMD (their one
# binary reader, select/labelled_set.hpp, runs on aarch64 in runtime.mixed_precision's digits test) — whose ~250
# CPU-s of cross compiling and emulated runs bought nothing the native run does not check.
if(PRIMSEL_AARCH64_GXX AND PRIMSEL_QEMU_AARCH64_HOST AND EXISTS ${PROJECT_SOURCE_DIR}/cmake/toolchains/aarch64-linux-gnu.cmake)
  primsel_test_build(primsel_aarch64 cross.aarch64 TESTS "^(core|graph|io|primitives|quant|runtime|zoo)[.]"
    TIMEOUT 1800 COST 372
    ARGS -DCMAKE_BUILD_TYPE=Release
         -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/toolchains/aarch64-linux-gnu.cmake)
else()
  message(WARNING "aarch64-linux-gnu-g++ or qemu-aarch64 not found: the aarch64 test build is skipped "
                  "(cmake/install-deps.sh installs g++-aarch64-linux-gnu and qemu-user)")
endif()
