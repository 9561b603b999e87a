# The layer check of .ci/lint (.ci/check-layers, table .ci/layers; docs/layers.md):
# the real tree passes, and copies with crossing includes are rejected.
add_test(NAME test_layers COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/lint/test_layers.sh
  ${PROJECT_SOURCE_DIR})
set_tests_properties(test_layers PROPERTIES TIMEOUT 60 LABELS unit)

# The examples of docs/API.md (its tables) and the ```c/```cpp blocks of the API docs compile
# against include/ (cc / c++ -fsyntax-only -Wall -Wextra -Werror): no library needed.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME test_doc_examples
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/lint/check_doc_examples.py
      ${PROJECT_SOURCE_DIR} ${WANDB_GENERATED_INCLUDE_DIR})
  set_tests_properties(test_doc_examples PROPERTIES TIMEOUT 60 LABELS unit
    ENVIRONMENT "CC=${CMAKE_C_COMPILER};CXX=$<IF:$<BOOL:${WANDB_HAVE_CXX}>,${CMAKE_CXX_COMPILER},c++>")
else()
  message(STATUS "test_doc_examples: no python3 found, not registered")
endif()
