# Tests of define_metric semantics and of resume (docs/decisions.md "define_metric" and
# "Resume"): the public API through the in-process aggregator into the real server.
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  foreach(_t test_metric_server)
    wandb_add_test(${_t} SOURCES integration/${_t}.c harness/server_harness.c
      LABELS integration TIMEOUT 120)
    add_dependencies(${_t} wandb-mpi-server)
  endforeach()
endif()
