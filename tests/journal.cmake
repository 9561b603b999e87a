# src/journal: the aggregator's on-disk journal (writer, reader, damage handling).
wandb_add_test(test_journal SOURCES unit/test_journal.c LIBS wbi_journal wbi_common
  LABELS unit TIMEOUT 60)
