# Cross build for 64-bit Arm Linux with Debian's cross toolchain (g++-aarch64-linux-gnu), tests run under qemu-user:
#
#   cmake -S . -B /tmp/build-a64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DCMAKE_BUILD_TYPE=Release -DPRIMSEL_BUILD_BENCHMARKS=OFF -DPRIMSEL_BUILD_EXAMPLES=OFF
#   cmake --build /tmp/build-a64 -j2 && ctest --test-dir /tmp/build-a64 -j2
#
# Target: Armv8.2-A with the dot-product extension (Cortex-A76/A78, Neoverse N1/V1, Apple M*, Graviton 2/3), so the
# f32 kernels use NEON through xsimd and the int8 GEMM uses `sdot`. Override with -DPRIMSEL_AARCH64_MARCH=armv8-a
# for older cores (the int8 GEMM then takes its portable path). See docs/arm.md.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(PRIMSEL_AARCH64_MARCH "armv8.2-a+dotprod" CACHE STRING "-march for the aarch64 cross build")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PRIMSEL_AARCH64_MARCH)  # CMake's checks compile for it too
set(CMAKE_C_FLAGS_INIT "-march=${PRIMSEL_AARCH64_MARCH}")
# -Wno-psabi: GCC's note that passing std::pair<double, double> changed in GCC 10 concerns linking with objects
# built by GCC 9 or older; it printed on every unit that includes the latency predictor.
set(CMAKE_CXX_FLAGS_INIT "-march=${PRIMSEL_AARCH64_MARCH} -Wno-psabi")

# Debian's cross toolchain has no sysroot of the usual shape: target headers and libraries are in
# /usr/aarch64-linux-gnu/{include,lib}, which the compiler searches on its own (no --sysroot).
set(PRIMSEL_AARCH64_ROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${PRIMSEL_AARCH64_ROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages: primsel's dependencies (Eigen, xsimd, xtl, Catch2 2) are header-only and their headers are
# architecture-independent, so the host's Debian packages serve the target too; their CMake configs are found in the
# host's /usr (xsimd's sits in the host's multiarch directory). primsel's CMakeLists re-points those imported targets
# from /usr/include to a private directory of links when CMAKE_CROSSCOMPILING (cmake/primselCrossDependencies.cmake):
# -isystem /usr/include would put the host's x86 glibc headers ahead of the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
list(APPEND CMAKE_PREFIX_PATH /usr/lib/${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu/cmake)

# ctest and add_test() run target programs through qemu-user with the target's loader and libraries. `-cpu max`
# emulates every extension qemu knows (dotprod included), so whatever -march above enables can execute.
find_program(PRIMSEL_QEMU_AARCH64 qemu-aarch64)
if(PRIMSEL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PRIMSEL_QEMU_AARCH64} -L ${PRIMSEL_AARCH64_ROOT} -cpu max)
endif()
