# Packaging: the shared libraries export the public API only (docs/packaging.md).
# The install and consumer builds are tests/consumer/run.sh (run by .ci/test).
set(_wandb_shared_libs)
foreach(_lib wandb wandb_mpi)
  if(TARGET ${_lib})
    list(APPEND _wandb_shared_libs $<TARGET_FILE:${_lib}>)
  endif()
endforeach()
if(_wandb_shared_libs)
  add_test(NAME test_exports
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/packaging/check_exports.sh ${_wandb_shared_libs})
  set_tests_properties(test_exports PROPERTIES TIMEOUT 60 LABELS packaging SKIP_RETURN_CODE 77)
endif()
