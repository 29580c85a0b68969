# Cross builds (cmake/toolchains/): the header-only dependencies are the build machine's packages, and their imported
# targets carry -isystem /usr/include, which would put the host's C library headers (x86 glibc) ahead of the cross
# compiler's own. Their headers are architecture-independent, so each target is re-pointed from /usr/include to a
# private directory holding links to exactly the dependencies' header folders (tests/CMakeLists.txt does the same for
# its compile-only checks). Prefixes other than /usr/include (Eigen's /usr/include/eigen3) hold nothing else and stay.
function(primsel_isolate_host_includes)
  set(private ${PROJECT_BINARY_DIR}/cross-include)
  foreach(dep eigen3 xsimd xtl catch2)
    if(EXISTS /usr/include/${dep} AND NOT EXISTS ${private}/${dep})
      file(MAKE_DIRECTORY ${private})
      file(CREATE_LINK /usr/include/${dep} ${private}/${dep} SYMBOLIC)
    endif()
  endforeach()
  foreach(target IN LISTS ARGN)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    list(TRANSFORM dirs REPLACE "^/usr/include/?$" ${private})
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${dirs}")
  endforeach()
endfunction()
