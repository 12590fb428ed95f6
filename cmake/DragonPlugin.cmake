# dragon_add_plugin(<kind> <name> SOURCES <files...> [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds a Dragon plugin as a loadable module named dragon_<kind>_<name>.so,
# the file name the loader expects. Used in tree and by out-of-tree plugins
# after find_package(Dragon).
function(dragon_add_plugin kind name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY;INSTALL_DIR" "SOURCES" ${ARGN})
  set(target dragon_${kind}_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${target}
                                             C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden)
  if(TARGET Dragon::headers)
    target_link_libraries(${target} PRIVATE Dragon::headers)
  else()
    target_link_libraries(${target} PRIVATE dragon_headers)
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED DRAGON_PLUGIN_BUILD_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${DRAGON_PLUGIN_BUILD_DIR})
  endif()
  if(NOT ARG_NO_INSTALL)
    if(ARG_INSTALL_DIR)
      install(TARGETS ${target} LIBRARY DESTINATION ${ARG_INSTALL_DIR})
    else()
      install(TARGETS ${target} LIBRARY DESTINATION ${DRAGON_PLUGIN_SUBDIR})
    endif()
  endif()
endfunction()
