# ihost_add_plugin(<name> <sources...>): builds a loadable ihost plugin (MODULE library lib<name>.so, C++17,
# hidden visibility so that only ih_plugin_entry is exported, no undefined symbols outside sanitizer builds).
# Inside the ihost tree the file lands in ${IH_PLUGIN_OUTPUT_DIR} (build/plugins); out of tree, in the target's
# usual output directory.
# Link extra libraries with target_link_libraries(<name> PRIVATE ...) as usual.
function(ihost_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE ihost::sdk)
  set_target_properties(${name} PROPERTIES
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED IH_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${IH_PLUGIN_OUTPUT_DIR})
  endif()
  # Hidden visibility still lets libstdc++ template instances (weak, default visibility) leak into the dynamic
  # symbol table; a version script keeps the export list to exactly the ABI entry point.
  set(version_script ${CMAKE_CURRENT_BINARY_DIR}/${name}_exports.map)
  file(WRITE ${version_script} "{\n  global: ih_plugin_entry;\n  local: *;\n};\n")
  target_link_options(${name} PRIVATE -Wl,--version-script=${version_script})
  # A missing symbol is a link error, not a dlopen failure. Not in sanitizer builds: a sanitizer runtime linked
  # into the executable (clang's default) leaves the plugin's __asan_*/__tsan_* references for the host to resolve.
  if(NOT IH_SANITIZE AND NOT CMAKE_CXX_FLAGS MATCHES "-fsanitize=")
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${version_script})
endfunction()
