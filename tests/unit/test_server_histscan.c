//  test_server_histscan.c - the dashboard's fast history-row reader (histscan.c)
//  SPDX-License-Identifier: MIT
//
//  Each row is read by the scanner and the pairs compared with what is
//  expected; lines the scanner must leave to jansson answer false.
#include "server/histscan.h"
#include "testutil.h"

#include <math.h>

// Scans text; the pairs as "name=value;..." (values with %.17g) in out.
static bool s_scan(const char *text, const char *xkey, char *out, size_t len, double *x)
{
    wbi_hist_row_t row = {0};
    wbi_buf_init(&row.names, 1 << 20);
    bool ok = wbi_hist_scan(text, strlen(text), xkey, &row);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; ok && i < row.n; i++)
        used += (size_t)snprintf(out + used, len - used, "%s=%.17g;",
                                 row.names.data + row.pairs[i].name_off, row.pairs[i].value);
    *x = row.has_x ? row.x : -12345;
    wbi_hist_row_release(&row);
    return ok;
}

static void test_flat_and_nested(void)
{
    char out[512];
    double x;
    CHECK(s_scan("{\"loss\": 0.5, \"_step\": 3, \"acc\":1e-3, \"n\":-2}", "_step", out, sizeof out,
                 &x));
    CHECK_STREQ(out, "loss=0.5;acc=0.001;n=-2;");
    CHECK_EQ_DBL(x, 3.0);
    CHECK(s_scan("{\"a\":{\"b\":1,\"c\":{\"d\":2}},\"e\":3,\"_step\":0}", "_step", out, sizeof out,
                 &x));
    CHECK_STREQ(out, "a.b=1;a.c.d=2;e=3;");
    // Strings, booleans, null and arrays are no series; _-keys neither.
    CHECK(s_scan("{\"s\":\"x,}\\\"\",\"t\":true,\"f\":false,\"z\":null,\"arr\":[1,[2],{\"q\":3}],"
                 "\"_runtime\":1.5,\"v\":7,\"_step\":1}",
                 "_runtime", out, sizeof out, &x));
    CHECK_STREQ(out, "v=7;");
    CHECK_EQ_DBL(x, 1.5);
}

static void test_media_and_nonfinite(void)
{
    char out[512];
    double x;
    CHECK(
        s_scan("{\"img\":{\"_type\":\"image-file\",\"width\":8,\"height\":8},\"h\":{\"values\":[1],"
               "\"_type\":\"histogram\",\"n\":3},\"m\":2,\"_step\":5}",
               "_step", out, sizeof out, &x));
    CHECK_STREQ(out, "m=2;");
    CHECK(s_scan("{\"a\":NaN,\"b\":Infinity,\"c\":-Infinity,\"_step\":1}", "_step", out, sizeof out,
                 &x));
    CHECK_STREQ(out, "a=nan;b=inf;c=-inf;");
    // Without the x key: pairs, but no x.
    CHECK(s_scan("{\"a\":1}", "_step", out, sizeof out, &x));
    CHECK_EQ_DBL(x, -12345.0);
    // A define_metric step metric as x (not starting with '_'): x, and a series too? No:
    // the x key itself is not a pair.
    CHECK(s_scan("{\"epoch\":4,\"val\":0.25}", "epoch", out, sizeof out, &x));
    CHECK_STREQ(out, "val=0.25;");
    CHECK_EQ_DBL(x, 4.0);
}

static void test_left_to_jansson(void)
{
    char out[512];
    double x;
    CHECK(!s_scan("{\"caf\\u00e9\":1}", "_step", out, sizeof out, &x)); // escaped key
    CHECK(!s_scan("{\"a\":1", "_step", out, sizeof out, &x));           // cut
    CHECK(!s_scan("[1,2]", "_step", out, sizeof out, &x));              // not an object
    CHECK(!s_scan("{\"a\":1} x", "_step", out, sizeof out, &x));        // trailing text
    CHECK(
        !s_scan("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":1}}}}}}}}}}",
                "_step", out, sizeof out, &x)); // deeper than 8
    CHECK(!s_scan("{\"a\" 1}", "_step", out, sizeof out, &x));
}

WBT_MAIN({"flat_and_nested", test_flat_and_nested},
         {"media_and_nonfinite", test_media_and_nonfinite},
         {"left_to_jansson", test_left_to_jansson})
