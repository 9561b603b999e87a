//  test_backend_stream.c - the stream files (wandb-events.jsonl, output.log) in file_stream bodies
//  SPDX-License-Identifier: MIT
#include "backend/request.h"
#include "common/alloc.h"
#include "testutil.h"

#include <jansson.h>

// Parses a body we built (it must be strict JSON) or fails the test.
static json_t *s_parse(const wbi_buf_t *b)
{
    json_error_t err;
    json_t *j = json_loadb(b->data, b->len, 0, &err);
    if (!j)
        WBT_FAIL("not JSON (%s): %s", err.text, b->data);
    return j;
}

// A list of n lines "<prefix><i>".
static wbi_bk_line_t *s_lines(const char *prefix, size_t n)
{
    wbi_list_t list;
    wbi_list_init(&list);
    for (size_t i = 0; i < n; i++) {
        char text[64];
        size_t len = (size_t)snprintf(text, sizeof text, "%s%zu", prefix, i);
        wbi_bk_line_t *l = wbi_malloc(sizeof *l + len + 1);
        l->len = len;
        memcpy(l->data, text, len + 1);
        wbi_list_append(&list, &l->node);
    }
    return WBI_LIST_ITEM(list.head, wbi_bk_line_t, node);
}

static void s_free_lines(wbi_bk_line_t *l)
{
    while (l) {
        wbi_bk_line_t *n = WBI_BK_LINE_NEXT(l);
        wbi_free(l);
        l = n;
    }
}

// The part of file name in a body: its offset and number of lines (-1: absent).
static int s_part(json_t *body, const char *name, long long *offset)
{
    json_t *part = json_object_get(json_object_get(body, "files"), name);
    if (!part)
        return -1;
    *offset = json_integer_value(json_object_get(part, "offset"));
    return (int)json_array_size(json_object_get(part, "content"));
}

// The names, the file ids and their inverse.
static void test_names(void)
{
    CHECK_STREQ(wbi_backend_stream_name(WBI_STREAM_EVENTS), "wandb-events.jsonl");
    CHECK_STREQ(wbi_backend_stream_name(WBI_STREAM_OUTPUT), "output.log");
    CHECK(wbi_backend_stream_name(WBI_STREAMS) == NULL);
    CHECK(wbi_backend_stream_name(-1) == NULL);
    CHECK_EQ(wbi_backend_stream_of("output.log", 10), WBI_STREAM_OUTPUT);
    CHECK_EQ(wbi_backend_stream_of("wandb-events.jsonl", 18), WBI_STREAM_EVENTS);
    CHECK_EQ(wbi_backend_stream_of("output.lo", 9), -1);
    CHECK_EQ(wbi_backend_stream_of("wandb-history.jsonl", 19), -1);
}

// History, events and console lines each at their own offset in one body;
// complete rides along when every line fits.
static void test_all_files(void)
{
    wbi_bk_line_t *hist = s_lines("{\"a\":", 2);
    wbi_bk_line_t *ev = s_lines("{\"system.cpu\":", 3);
    wbi_bk_line_t *out = s_lines("console \"line\" ", 4);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    size_t taken = 0, st[WBI_STREAMS] = {9, 9};
    bool completed = false;
    wbi_bk_fs_t fs = {.offset = 10,
                      .lines = hist,
                      .nlines = 2,
                      .summary = "{\"a\":1}",
                      .summary_len = 7,
                      .finishing = true,
                      .exit_code = 0,
                      .stream_taken = st};
    fs.streams[WBI_STREAM_EVENTS] = (wbi_bk_fs_stream_t){.offset = 4, .lines = ev, .nlines = 3};
    fs.streams[WBI_STREAM_OUTPUT] = (wbi_bk_fs_stream_t){.offset = 40, .lines = out, .nlines = 4};
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(taken, 2);
    CHECK_EQ(st[WBI_STREAM_EVENTS], 3);
    CHECK_EQ(st[WBI_STREAM_OUTPUT], 4);
    CHECK(completed);
    json_t *j = s_parse(&b);
    long long off = -1;
    CHECK_EQ(s_part(j, "wandb-history.jsonl", &off), 2);
    CHECK_EQ(off, 10);
    CHECK_EQ(s_part(j, "wandb-events.jsonl", &off), 3);
    CHECK_EQ(off, 4);
    CHECK_EQ(s_part(j, "output.log", &off), 4);
    CHECK_EQ(off, 40);
    CHECK_EQ(s_part(j, "wandb-summary.json", &off), 1);
    json_t *content =
        json_object_get(json_object_get(json_object_get(j, "files"), "output.log"), "content");
    CHECK_STREQ(json_string_value(json_array_get(content, 3)), "console \"line\" 3");
    CHECK(json_is_true(json_object_get(j, "complete")));
    json_decref(j);

    // Streams only, no history: still one body; an empty stream has no part.
    wbi_buf_reset(&b);
    wbi_bk_fs_t only = {.stream_taken = st};
    only.streams[WBI_STREAM_OUTPUT] = (wbi_bk_fs_stream_t){.offset = 0, .lines = out, .nlines = 4};
    CHECK_OK(wbi_bk_fs_body(&b, &only, &taken, &completed));
    CHECK_EQ(taken, 0);
    CHECK_EQ(st[WBI_STREAM_EVENTS], 0);
    CHECK_EQ(st[WBI_STREAM_OUTPUT], 4);
    CHECK(!completed);
    j = s_parse(&b);
    CHECK_EQ(s_part(j, "wandb-events.jsonl", &off), -1);
    CHECK_EQ(s_part(j, "wandb-history.jsonl", &off), -1);
    CHECK_EQ(s_part(j, "output.log", &off), 4);
    json_decref(j);
    wbi_buf_release(&b);
    s_free_lines(hist);
    s_free_lines(ev);
    s_free_lines(out);
}

// A small cap: history first, the streams after it; what does not fit
// waits for the next request, and complete with it.
static void test_split(void)
{
    wbi_bk_line_t *hist = s_lines("{\"a\":", 3);
    wbi_bk_line_t *out = s_lines("a console line that is long enough ", 10);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    size_t taken = 0, st[WBI_STREAMS] = {0};
    bool completed = true;
    wbi_bk_fs_t fs = {
        .lines = hist, .nlines = 3, .finishing = true, .max_bytes = 200, .stream_taken = st};
    fs.streams[WBI_STREAM_OUTPUT] = (wbi_bk_fs_stream_t){.offset = 7, .lines = out, .nlines = 10};
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(taken, 3);
    CHECK(st[WBI_STREAM_OUTPUT] >= 1 && st[WBI_STREAM_OUTPUT] < 10);
    CHECK(!completed);
    json_t *j = s_parse(&b);
    long long off = -1;
    CHECK_EQ(s_part(j, "output.log", &off), (int)st[WBI_STREAM_OUTPUT]);
    CHECK_EQ(off, 7);
    CHECK(json_object_get(j, "complete") == NULL);
    json_decref(j);
    // A cap below one line: the history line goes alone, no stream line.
    wbi_buf_reset(&b);
    fs.max_bytes = 1;
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(taken, 1);
    CHECK_EQ(st[WBI_STREAM_OUTPUT], 0);
    CHECK(!completed);
    // Without history, the first stream line goes anyway.
    wbi_buf_reset(&b);
    fs.lines = NULL;
    fs.nlines = 0;
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(st[WBI_STREAM_OUTPUT], 1);
    wbi_buf_release(&b);
    s_free_lines(hist);
    s_free_lines(out);
}

int main(int argc, char **argv)
{
    static const wbt_case_t cases[] = {
        {"names", test_names}, {"all_files", test_all_files}, {"split", test_split}};
    return wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
