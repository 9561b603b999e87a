//  test_jsonx.c - extended JSON (NaN, Infinity) and the writers
//  SPDX-License-Identifier: MIT
#include "common/alloc.h"
#include "common/jsonx.h"
#include "testutil.h"

#include <math.h>

// Appends with put_double and compares with want.
static void s_check_double(double d, const char *want)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 64);
    CHECK_OK(wbi_jsonx_put_double(&b, d));
    CHECK_STREQ(b.data, want);
    wbi_buf_release(&b);
}

// Doubles are the shortest text that reads back exactly; non-finite bare.
static void test_doubles(void)
{
    s_check_double(0.1, "0.1");
    s_check_double(0.5, "0.5");
    s_check_double(3.0, "3.0");
    s_check_double(-2.5e-300, "-2.5e-300");
    s_check_double(1.0 / 3.0, "0.3333333333333333");
    s_check_double(NAN, "NaN");
    s_check_double(INFINITY, "Infinity");
    s_check_double(-INFINITY, "-Infinity");
    s_check_double(1e21, "1e+21");
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 10000; i++) { // random doubles round-trip exactly
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        wbi_buf_t b;
        wbi_buf_init(&b, 64);
        CHECK_OK(wbi_jsonx_put_double(&b, d));
        CHECK(strtod(b.data, NULL) == d);
        wbi_buf_release(&b);
    }
}

// Strings are escaped; invalid UTF-8 is refused and nothing is appended.
static void test_strings(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 256);
    CHECK_OK(wbi_jsonx_put_string(&b, "a\"b\\c\n\x01é", strlen("a\"b\\c\n\x01é")));
    CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\n\\u0001é\"");
    size_t len = b.len;
    CHECK_ERR(wbi_jsonx_put_string(&b, "bad\xC3\x28", 5), WANDB_EINVAL);
    CHECK_EQ(b.len, len);
    CHECK(!wbi_utf8_valid("\xED\xA0\x80", 3)); // surrogate
    CHECK(!wbi_utf8_valid("\xC0\xAF", 2));     // overlong
    CHECK(wbi_utf8_valid("\xF0\x9F\x98\x80", 4));
    wbi_buf_release(&b);
}

// NaN and Infinity survive parse -> dump; strings that look alike do not
// change; plain JSON is unaffected.
static void test_round_trip(void)
{
    const char *text = "{\"a\":NaN,\"b\":[Infinity,-Infinity,1],\"c\":\"NaN\","
                       "\"d\":\"x\\\"NaN\",\"e\":{\"f\":-Infinity}}";
    json_error_t err;
    json_t *j = wbi_jsonx_loadb(text, strlen(text), 0, &err);
    CHECK(j != NULL);
    double d;
    CHECK(wbi_jsonx_number(json_object_get(j, "a"), &d) && isnan(d));
    CHECK(wbi_jsonx_is_nonfinite(json_array_get(json_object_get(j, "b"), 1), &d) && d < 0);
    CHECK(!wbi_jsonx_is_nonfinite(json_object_get(j, "c"), &d));
    CHECK_STREQ(json_string_value(json_object_get(j, "c")), "NaN");
    char *out = wbi_jsonx_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STREQ(out, "{\"a\":NaN,\"b\":[Infinity,-Infinity,1],\"c\":\"NaN\","
                     "\"d\":\"x\\\"NaN\",\"e\":{\"f\":-Infinity}}");
    wbi_free(out);
    json_decref(j);

    const char *plain = "{\"z\":0.1,\"a\":[3.0,-7,true,null,\"\\u00e9\"]}";
    j = wbi_jsonx_loadb(plain, strlen(plain), 0, &err);
    CHECK(j != NULL);
    out = wbi_jsonx_dumps(j, 0); // insertion order, shortest doubles
    CHECK_STREQ(out, "{\"z\":0.1,\"a\":[3.0,-7,true,null,\"é\"]}");
    wbi_free(out);
    json_decref(j);

    json_t *o = json_object();
    json_object_set_new(o, "x", wbi_jsonx_real(INFINITY));
    json_object_set_new(o, "y", wbi_jsonx_real(0.25));
    out = wbi_jsonx_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STREQ(out, "{\"x\":Infinity,\"y\":0.25}");
    wbi_free(out);
    json_decref(o);
}

// Malformed input reports a position.
static void test_errors(void)
{
    json_error_t err;
    CHECK(wbi_jsonx_loadb("{\"a\":Nope}", 10, 0, &err) == NULL);
    CHECK(err.position > 0);
    CHECK(wbi_jsonx_loadb("{\"a\":", 5, 0, &err) == NULL);
}

WBT_MAIN({"doubles", test_doubles}, {"strings", test_strings}, {"round_trip", test_round_trip},
         {"errors", test_errors})
