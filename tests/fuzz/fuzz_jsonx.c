//  fuzz_jsonx.c - fuzz target: W&B extended JSON (bare NaN, Infinity, -Infinity)
//  SPDX-License-Identifier: MIT
//
//  The input is a JSON text as a client, the aggregator or the server reads
//  it. Beyond not crashing: a parsed value dumps to a text that parses back to
//  an equal value and dumps to the same text (a fixed point); text that plain
//  jansson accepts means the same after the token rewriting; and the UTF-8
//  check agrees with jansson's, with every valid string surviving
//  wbi_jsonx_put_string and a read back.

#include "fuzz/fuzz.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <string.h>

#define S_DUMP_DEPTH_MAX 256 // the nesting wbi_jsonx_dumps refuses beyond (jsonx.c)

// The deepest nesting level in j (the root is level 0).
static int s_depth(const json_t *j)
{
    int deepest = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            int d = 1 + s_depth(v);
            deepest = d > deepest ? d : deepest;
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            int d = 1 + s_depth(json_array_get(j, i));
            deepest = d > deepest ? d : deepest;
        }
    }
    return deepest;
}

// Dump, parse back, dump again: the same value and the same text.
static void s_round_trip(const json_t *j)
{
    char *text = wbi_jsonx_dumps(j, JSON_SORT_KEYS);
    if (!text) {
        WBF_ASSERT(s_depth(j) > S_DUMP_DEPTH_MAX);
        return;
    }
    json_error_t jerr;
    json_t *back = wbi_jsonx_loadb(text, strlen(text), 0, &jerr);
    if (!back) {
        fprintf(stderr, "dump '%s' does not parse: %s\n", text, jerr.text);
        abort();
    }
    WBF_ASSERT(json_equal((json_t *)j, back));
    char *again = wbi_jsonx_dumps(back, JSON_SORT_KEYS);
    WBF_ASSERT(again && strcmp(text, again) == 0);
    double d;
    if (wbi_jsonx_number(j, &d))
        WBF_ASSERT(wbi_jsonx_number(back, &d));
    wbi_free(again);
    json_decref(back);
    wbi_free(text);
}

// Plain JSON has no bare tokens outside strings, so the rewriting must leave
// it alone: both parsers accept it and agree on the value.
static void s_plain(const uint8_t *data, size_t size, const json_t *j)
{
    json_error_t jerr;
    json_t *plain = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!plain)
        return;
    WBF_ASSERT(j && json_equal(plain, (json_t *)j));
    json_decref(plain);
}

// The input as a string: valid UTF-8 exactly when jansson takes it, and a
// valid string written by wbi_jsonx_put_string reads back byte for byte.
static void s_string(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool valid = wbi_utf8_valid(s, size);
    json_t *js = json_stringn(s, size);
    WBF_ASSERT(valid == (js != NULL));
    json_decref(js);
    wbi_buf_t out;
    wbi_buf_init(&out, 6 * size + 16);
    wandb_err rc = wbi_jsonx_put_string(&out, s, size);
    WBF_ASSERT(rc == (valid ? WANDB_OK : WANDB_EINVAL));
    if (valid) {
        json_error_t jerr;
        json_t *back = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        WBF_ASSERT(json_is_string(back) && json_string_length(back) == size);
        WBF_ASSERT(memcmp(json_string_value(back), s, size) == 0);
        json_decref(back);
    } else {
        WBF_ASSERT(out.len == 0);
    }
    wbi_buf_release(&out);
}

// One text: parse, round trip, compare with plain jansson, then as a string.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = wbi_jsonx_loadb((const char *)data, size, 0, &jerr);
    if (j)
        s_round_trip(j);
    else // a syntax error is reported as one, whatever the tokens
        WBF_ASSERT(strcmp(jerr.text, "out of memory") != 0);
    s_plain(data, size, j);
    json_decref(j);
    s_string(data, size);
    return 0;
}
