//  test_backend_resume.c - the RunResumeStatus body and the decision its answer makes
//  SPDX-License-Identifier: MIT
//
//  Hand-written answers in the server's shape (docs/server.md) go through
//  wbi_bk_parse_resume for each mode: wandb-core's table (never + exists and
//  must + missing refused, the rest decided), "exists" needing wandbConfig
//  with "t", the starting step (history tail over summary, +1 with history),
//  the runtime (the largest of tails and summary), the config unwrapped
//  without `_wandb`, bad answers.
#include "backend/backend_int.h"
#include "testutil.h"
#include <jansson.h>

// An answer with a bucket built from the given JSON member texts.
static char *s_answer(const char *bucket_members)
{
    static char buf[4096];
    if (!bucket_members)
        snprintf(buf, sizeof buf, "{\"data\":{\"model\":{\"id\":\"p\",\"bucket\":null}}}");
    else
        snprintf(buf, sizeof buf, "{\"data\":{\"model\":{\"id\":\"p\",\"bucket\":{%s}}}}",
                 bucket_members);
    return buf;
}

#define S_EXISTS                                                                                   \
    "\"id\":\"b1\",\"wandbConfig\":\"{\\\"t\\\":{\\\"13\\\":\\\"linux\\\"}}\","                    \
    "\"historyLineCount\":10,\"eventsLineCount\":2,\"logLineCount\":5,"                            \
    "\"summaryMetrics\":\"{\\\"_step\\\":7,\\\"loss\\\":0.5,\\\"_wandb\\\":{\\\"runtime\\\":30}}"  \
    "\","                                                                                          \
    "\"historyTail\":\"[\\\"{\\\\\\\"_step\\\\\\\":9,\\\\\\\"_runtime\\\\\\\":12.5}\\\"]\","       \
    "\"eventsTail\":\"[\\\"{\\\\\\\"_runtime\\\\\\\":41.0}\\\"]\","                                \
    "\"config\":\"{\\\"lr\\\":{\\\"value\\\":0.1},\\\"_wandb\\\":{\\\"value\\\":{}}}\""

static wbi_resumed_t s_decide(const char *answer, int mode, wbi_run_resume_t *out)
{
    char err[200];
    wandb_err rc = wbi_bk_parse_resume(answer, strlen(answer), mode, "r1", out, err, sizeof err);
    CHECK_OK(rc);
    return out->state;
}

static void test_table(void)
{
    wbi_run_resume_t r;
    CHECK_EQ(s_decide(s_answer(NULL), WBI_RESUME_ALLOW, &r), WBI_RESUMED_NEW);
    CHECK_EQ(s_decide(s_answer(NULL), WBI_RESUME_NEVER, &r), WBI_RESUMED_NEW);
    CHECK_EQ(s_decide(s_answer(NULL), WBI_RESUME_MUST, &r), WBI_RESUMED_MISSING);
    CHECK(strstr(r.msg, "'r1' does not exist") != NULL);
    // a bucket whose wandbConfig has no "t" never started: it does not exist
    CHECK_EQ(s_decide(s_answer("\"id\":\"b\",\"wandbConfig\":\"{}\""), WBI_RESUME_MUST, &r),
             WBI_RESUMED_MISSING);
    CHECK_EQ(s_decide(s_answer(S_EXISTS), WBI_RESUME_NEVER, &r), WBI_RESUMED_EXISTS);
    CHECK(strstr(r.msg, "'r1' already exists") != NULL);
    CHECK_EQ(s_decide(s_answer(S_EXISTS), WBI_RESUME_MUST, &r), WBI_RESUMED_YES);
    wbi_run_resume_release(&r);
}

static void test_resumed_fields(void)
{
    wbi_run_resume_t r;
    CHECK_EQ(s_decide(s_answer(S_EXISTS), WBI_RESUME_ALLOW, &r), WBI_RESUMED_YES);
    CHECK_EQ(r.starting_step, 10); // the history tail's _step 9 wins over the summary's 7
    CHECK(r.runtime == 41.0);      // the largest: events tail 41 > summary 30 > history 12.5
    CHECK_EQ(r.history_lines, 10);
    CHECK_EQ(r.stream_lines[WBI_STREAM_EVENTS], 2);
    CHECK_EQ(r.stream_lines[WBI_STREAM_OUTPUT], 5);
    CHECK_STREQ(r.config_json, "{\"lr\":0.1}");
    CHECK(strstr(r.summary_json, "\"loss\":0.5") != NULL);
    wbi_run_resume_release(&r);
    CHECK(r.summary_json == NULL && r.state == WBI_RESUMED_PENDING);
    // no history: the summary's step, not + 1
    CHECK_EQ(s_decide(s_answer("\"wandbConfig\":\"{\\\"t\\\":{}}\",\"historyLineCount\":0,"
                               "\"summaryMetrics\":\"{\\\"_step\\\":3}\""),
                      WBI_RESUME_ALLOW, &r),
             WBI_RESUMED_YES);
    CHECK_EQ(r.starting_step, 3);
    CHECK(r.runtime == 0);
    wbi_run_resume_release(&r);
}

static void test_bad_answers(void)
{
    wbi_run_resume_t r;
    char err[200];
    const char *bad[] = {"not json", "{\"errors\":[{\"message\":\"no\"}]}", "{}"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(wbi_bk_parse_resume(bad[i], strlen(bad[i]), WBI_RESUME_ALLOW, "r1", &r, err,
                                  sizeof err) != WANDB_OK);
        CHECK(err[0] != '\0');
        CHECK_EQ(r.state, WBI_RESUMED_PENDING);
    }
}

static void test_body(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 16);
    CHECK_OK(wbi_bk_resume_body(&b, "proj", NULL, "r1"));
    json_error_t jerr;
    json_t *j = json_loads(b.data, 0, &jerr);
    CHECK(j != NULL);
    CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "RunResumeStatus");
    json_t *v = json_object_get(j, "variables");
    CHECK_STREQ(json_string_value(json_object_get(v, "project")), "proj");
    CHECK_STREQ(json_string_value(json_object_get(v, "name")), "r1");
    CHECK(json_is_null(json_object_get(v, "entity")));
    CHECK(strstr(json_string_value(json_object_get(j, "query")), "wandbConfig(keys: [\"t\"])"));
    json_decref(j);
    wbi_buf_release(&b);
}

WBT_MAIN({"table", test_table}, {"resumed_fields", test_resumed_fields},
         {"bad_answers", test_bad_answers}, {"body", test_body})
