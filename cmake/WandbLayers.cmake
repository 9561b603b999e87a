# WandbLayers.cmake - include roots per component, from the table in .ci/layers
# (docs/layers.md), so that the compiler refuses most arrows the table does not allow.
# Each component of src/ compiles against build/layers/<component>/, a directory of
# links to itself, to the components the table lets it include and to what those
# include in turn (their headers include headers), instead of all of src/. The direct
# arrows are checked exactly by .ci/check-layers (.ci/lint).
# wandb_layer_includes(<component>) names the INTERFACE target wandb_layer_<component>
# that carries include/, the generated headers and those roots; link it PRIVATE.
set(_wandb_layers_table ${PROJECT_SOURCE_DIR}/.ci/layers)
set(_wandb_layers)
if(EXISTS ${_wandb_layers_table})
  file(STRINGS ${_wandb_layers_table} _lines)
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "#.*" "" _line "${_line}")
    if(NOT _line MATCHES ":")
      continue()
    endif()
    string(REGEX MATCH "^[^:]*" _comp "${_line}")
    string(STRIP "${_comp}" _comp)
    string(REGEX REPLACE "^[^:]*:" "" _deps "${_line}")
    string(STRIP "${_deps}" _deps)
    string(REGEX REPLACE "[ \t]+" ";" _deps "${_deps}")
    set(_wandb_layer_deps_${_comp} ${_deps})
    list(APPEND _wandb_layers ${_comp})
  endforeach()
endif()

# The component and everything it reaches through the table, in *out.
function(_wandb_layer_closure comp out)
  set(seen ${comp})
  set(todo ${_wandb_layer_deps_${comp}})
  while(todo)
    list(POP_FRONT todo dep)
    if(NOT dep IN_LIST seen)
      list(APPEND seen ${dep})
      list(APPEND todo ${_wandb_layer_deps_${dep}})
    endif()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# Makes wandb_layer_<comp> once; without the table, the whole of src/ (as wandb_includes).
function(wandb_layer_includes comp)
  if(TARGET wandb_layer_${comp})
    return()
  endif()
  add_library(wandb_layer_${comp} INTERFACE)
  target_include_directories(wandb_layer_${comp} INTERFACE
    ${PROJECT_SOURCE_DIR}/include ${WANDB_GENERATED_INCLUDE_DIR})
  if(NOT comp IN_LIST _wandb_layers)
    message(WARNING "src/${comp} is not in .ci/layers: it sees all of src/")
    target_include_directories(wandb_layer_${comp} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    return()
  endif()
  set(root ${CMAKE_BINARY_DIR}/layers/${comp})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  _wandb_layer_closure(${comp} seen)
  foreach(part IN LISTS seen)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${part} ${root}/${part} SYMBOLIC)
  endforeach()
  target_include_directories(wandb_layer_${comp} INTERFACE ${root})
endfunction()
