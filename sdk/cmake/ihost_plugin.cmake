# ihost_add_plugin(<name> <sources...>): builds a loadable ihost plugin (MODULE library, C++17, hidden
# visibility so that only ih_plugin_entry is exported, no undefined symbols).
function(ihost_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE ihost::sdk)
  set_target_properties(${name} PROPERTIES
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
