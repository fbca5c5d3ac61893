# ih_add_module(NAME SOURCES ... DEPS ...): one host module as a static library `ih_<NAME>`.
# Module headers are included as "<module>/<header>.h" relative to host/.
function(ih_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(ih_${name} STATIC ${ARG_SOURCES})
  target_include_directories(ih_${name} PUBLIC ${PROJECT_SOURCE_DIR}/host)
  target_link_libraries(ih_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(ih_${name} PRIVATE -Wall -Wextra)
endfunction()

# ih_add_plugin(NAME SOURCES ... [DEPS ...]): a plugin shared object in build/plugins/lib<NAME>.so,
# built with hidden visibility so only ih_plugin_entry is exported.
function(ih_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ihost::sdk ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES
    CXX_STANDARD 17
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${IH_PLUGIN_OUTPUT_DIR})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  # A missing symbol is a link error, not a dlopen failure. Not in sanitizer builds: a sanitizer runtime linked
  # into the executable (clang's default) leaves the plugin's __asan_*/__tsan_* references for the host to resolve.
  if(NOT IH_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
