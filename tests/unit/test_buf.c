//  test_buf.c - the capped growable buffer and the allocation hooks
//  SPDX-License-Identifier: MIT
#include "common/alloc.h"
#include "common/buf.h"
#include "testutil.h"

// Appends grow the buffer and keep it NUL-terminated.
static void test_append(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        CHECK_OK(wbi_buf_printf(&b, "%d,", i));
    CHECK_EQ(strlen(b.data), b.len);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    char *s = wbi_buf_steal(&b);
    CHECK(b.data == NULL && b.len == 0);
    wbi_free(s);
}

// The cap is hard: an append past it fails and changes nothing.
static void test_cap(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 8);
    CHECK_OK(wbi_buf_puts(&b, "12345678"));
    CHECK_ERR(wbi_buf_putc(&b, '9'), WANDB_ETOOBIG);
    CHECK_STREQ(b.data, "12345678");
    wbi_buf_release(&b);
}

// An injected allocation failure surfaces as WANDB_ENOMEM.
static void test_oom(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1024);
    uint64_t before = wbi_alloc_count();
    wbi_alloc_fail_after(1);
    CHECK_ERR(wbi_buf_puts(&b, "x"), WANDB_ENOMEM);
    CHECK_OK(wbi_buf_puts(&b, "x"));
    CHECK_EQ(wbi_alloc_count(), before + 1);
    wbi_buf_release(&b);
}

WBT_MAIN({"append", test_append}, {"cap", test_cap}, {"oom", test_oom})
