# Tests of media beyond scalars (src/logger/media_*.c, include/wandb_media.h):
# the encoders alone, then logging into the real server, then the official
# Python client against the same server (conformance).
wandb_add_test(test_media SOURCES unit/test_media.c LABELS unit TIMEOUT 60)
