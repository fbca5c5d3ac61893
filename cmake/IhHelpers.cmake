# ih_add_module(NAME SOURCES ... DEPS ...): one host module as a static library `ih_<NAME>`.
# Module headers are included as "<module>/<header>.h" relative to host/.
# The layering is checked here, at configure time: every `#include "<other module>/…"` in the module's files
# must name a module declared in DEPS (as ih_<other>) that comes earlier in IH_HOST_MODULES (host/CMakeLists.txt).
# A violation stops the configure with the file and the include, so the order in that list is true.
function(ih_check_module_includes name deps)
  list(FIND IH_HOST_MODULES ${name} own_index)
  if(own_index LESS 0)
    return()
  endif()
  file(GLOB files ${CMAKE_CURRENT_SOURCE_DIR}/*.h ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^#include \"[a-z_]+/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "^#include \"([a-z_]+)/" _ "${line}")
      set(other ${CMAKE_MATCH_1})
      if(other STREQUAL name)
        continue()
      endif()
      list(FIND IH_HOST_MODULES ${other} other_index)
      if(other_index LESS 0)
        continue()  # not a host module (e.g. the SDK's "ih/…")
      endif()
      if(other_index GREATER own_index)
        message(FATAL_ERROR "${file}: ${line}\n  module '${name}' includes '${other}', which comes later in "
                            "IH_HOST_MODULES (host/CMakeLists.txt): move the code or the interface down.")
      endif()
      if(NOT "ih_${other}" IN_LIST deps)
        message(FATAL_ERROR "${file}: ${line}\n  module '${name}' includes '${other}' without declaring it: add "
                            "ih_${other} to DEPS in host/${name}/CMakeLists.txt.")
      endif()
    endforeach()
  endforeach()
endfunction()

function(ih_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  ih_check_module_includes(${name} "${ARG_DEPS}")
  add_library(ih_${name} STATIC ${ARG_SOURCES})
  target_include_directories(ih_${name} PUBLIC ${PROJECT_SOURCE_DIR}/host)
  target_link_libraries(ih_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(ih_${name} PRIVATE -Wall -Wextra)
endfunction()

# ih_add_plugin(NAME SOURCES ... [DEPS ...]): an in-tree plugin, built exactly as a third party builds one
# (the SDK's ihost_add_plugin: hidden visibility and a version script, so ih_plugin_entry is the only exported
# symbol; tests/integration/loader_test.cpp checks every shipped .so with nm -D), plus the tree's warnings.
function(ih_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  ihost_add_plugin(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
endfunction()
