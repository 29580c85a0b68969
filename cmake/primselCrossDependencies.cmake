# The header-only dependencies (Eigen, xsimd, xtl, Catch2) are the build machine's Debian packages under
# /usr/include. Their headers are architecture-independent, so cross compilers use them too, but never through
# -isystem /usr/include, which would put the host's C library headers (x86 glibc) ahead of the cross compiler's own.
# Works in script mode (cmake -P) too: examples/firmware/cross_build.cmake uses it.

# `dir` := a directory of links to exactly the dependencies' header folders.
function(primsel_link_dependency_headers dir)
  file(MAKE_DIRECTORY ${dir})
  foreach(dep eigen3 xsimd xtl catch2)
    if(EXISTS /usr/include/${dep} AND NOT EXISTS ${dir}/${dep})
      file(CREATE_LINK /usr/include/${dep} ${dir}/${dep} SYMBOLIC)
    endif()
  endforeach()
endfunction()

# Cross builds (cmake/toolchains/): re-points each imported target from /usr/include to such a directory. Prefixes
# other than /usr/include (Eigen's /usr/include/eigen3) hold nothing else and stay.
function(primsel_isolate_host_includes)
  set(private ${PROJECT_BINARY_DIR}/cross-include)
  primsel_link_dependency_headers(${private})
  foreach(target IN LISTS ARGN)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    list(TRANSFORM dirs REPLACE "^/usr/include/?$" ${private})
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${dirs}")
  endforeach()
endfunction()
