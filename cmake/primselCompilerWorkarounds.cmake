# Compiler workarounds that every target using primsel needs, applied both in primsel's own build and, through
# primselConfig.cmake, in projects that find_package(primsel).
#
# GCC 12 (Debian bookworm's 12.2) miscompiles aggregate copies with 512-bit SLP vectorisation when AVX-512 is
# enabled (-march=native on AVX-512 hardware, -mavx512f): a PoolParams copied into a std::variant argument came out
# with a wrong field at -O2/-O3. Keeping the auto-vectoriser at 256 bits (GCC's own default tuning for Intel's
# AVX-512 cores) avoids it; primsel's kernels use 512-bit registers explicitly through xsimd and are unaffected.
# In primsel's own build the options are wrapped in BUILD_INTERFACE so that the exported target does not carry
# them: the installed config re-decides for the consumer's compiler.
function(primsel_apply_compiler_workarounds target)
  set(options -mprefer-vector-width=256)
  if(NOT ARGV1 STREQUAL "IMPORTED")
    set(options "$<BUILD_INTERFACE:${options}>")
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13
     AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
    set_property(TARGET ${target} APPEND PROPERTY INTERFACE_COMPILE_OPTIONS ${options})
  endif()
endfunction()
