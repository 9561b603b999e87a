# The layer check of .ci/lint (.ci/check-layers, table .ci/layers; docs/layers.md):
# the real tree passes, and copies with crossing includes are rejected.
add_test(NAME test_layers COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/lint/test_layers.sh
  ${PROJECT_SOURCE_DIR})
set_tests_properties(test_layers PROPERTIES TIMEOUT 60 LABELS unit)
