# src/common: wire format, extended JSON, buffers.
wandb_add_test(test_wire SOURCES unit/test_wire.c LIBS wbi_common LABELS unit TIMEOUT 60)
wandb_add_test(test_jsonx SOURCES unit/test_jsonx.c LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_buf SOURCES unit/test_buf.c LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_dtoa SOURCES unit/test_dtoa.c LIBS wbi_common LABELS unit TIMEOUT 120)
wandb_add_test(test_relpath SOURCES unit/test_relpath.c LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_common_misc SOURCES unit/test_common_misc.c LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_md5 SOURCES unit/test_md5.c LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_artname SOURCES unit/test_artname.c LIBS wbi_common LABELS unit TIMEOUT 30)
