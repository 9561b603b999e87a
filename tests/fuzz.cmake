# tests/fuzz: one fuzz target per decoder (docs/fuzzing.md).
# wandb_add_fuzz(name LIBS ...) builds, from tests/fuzz/fuzz_<name>.c:
# - test_fuzz_<name> in every build, a unit test that replays each file of the seed corpus
#   tests/data/fuzz/<name>/ through the target (tests/fuzz/replay_main.c), so every
#   regression input runs in the normal build and under the sanitizers;
# - fuzz_<name> with WANDB_FUZZ (clang), the libFuzzer program of the same target.
function(wandb_add_fuzz name)
  cmake_parse_arguments(F "" "" "LIBS" ${ARGN})
  wandb_add_test(test_fuzz_${name} SOURCES fuzz/fuzz_${name}.c fuzz/replay_main.c
    LIBS ${F_LIBS} LABELS unit TIMEOUT 60)
  target_compile_definitions(test_fuzz_${name} PRIVATE WBF_CORPUS="${name}")
  if(WANDB_FUZZ)
    add_executable(fuzz_${name} fuzz/fuzz_${name}.c)
    target_include_directories(fuzz_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS} wandb_includes wandb_deps_core
      wandb_warnings)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()

# src/common: the wire-format decoder and extended JSON.
wandb_add_fuzz(wire LIBS wbi_common)
wandb_add_fuzz(jsonx LIBS wbi_common)
# src/server: file_stream bodies and GraphQL dispatch, on an in-memory store.
if(TARGET wbi_server)
  wandb_add_fuzz(filestream LIBS wbi_server wbi_store wbi_common SQLite::SQLite3
    PkgConfig::MHD Threads::Threads)
  wandb_add_fuzz(gql LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD
    Threads::Threads)
endif()
