//  test_backend_request.c - request bodies and answers of the backend client
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

// Every top-level key is wrapped; NaN/Infinity survive as bare tokens.
static void test_config_wrap(void)
{
    char *out = NULL;
    char err[128];
    CHECK_OK(wbi_bk_config_wrap("{\"lr\":0.01,\"model\":{\"depth\":4},\"bad\":NaN,"
                                "\"big\":-Infinity,\"name\":\"N\\\"I\"}",
                                &out, err, sizeof err));
    CHECK_STREQ(out, "{\"lr\":{\"value\":0.01},\"model\":{\"value\":{\"depth\":4}},"
                     "\"bad\":{\"value\":NaN},\"big\":{\"value\":-Infinity},"
                     "\"name\":{\"value\":\"N\\\"I\"}}");
    wbi_free(out);
    // Values are copied verbatim: number text, strings with ',' and '}', nesting.
    CHECK_OK(wbi_bk_config_wrap(" { \"lr\" : 0.1 , \"s\":\"a,}b\\\"\",\n"
                                "\"n\": [1, {\"x\":\"}\"}] ,\"e\":1e-7}\n",
                                &out, err, sizeof err));
    CHECK_STREQ(out, "{\"lr\":{\"value\":0.1},\"s\":{\"value\":\"a,}b\\\"\"},"
                     "\"n\":{\"value\":[1, {\"x\":\"}\"}]},\"e\":{\"value\":1e-7}}");
    wbi_free(out);
    CHECK_OK(wbi_bk_config_wrap("{}", &out, err, sizeof err));
    CHECK_STREQ(out, "{}");
    wbi_free(out);
    CHECK_ERR(wbi_bk_config_wrap("[1,2]", &out, err, sizeof err), WANDB_EPROTO);
    CHECK(out == NULL);
    CHECK(strstr(err, "not a JSON object"));
    CHECK_ERR(wbi_bk_config_wrap("{\"a\":", &out, err, sizeof err), WANDB_EPROTO);
    CHECK(err[0] != '\0');
}

// All declared variables are present, unset ones null; tags become a list.
static void test_upsert_body(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    wbi_bk_upsert_t u = {.name = "run1",
                         .project = "proj",
                         .group = "job-7",
                         .display_name = "rank-3",
                         .tags = " a, b ,,c",
                         .config = "{\"lr\":{\"value\":NaN}}"};
    CHECK_OK(wbi_bk_upsert_body(&b, &u));
    json_t *j = s_parse(&b);
    CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "UpsertBucket");
    const char *q = json_string_value(json_object_get(j, "query"));
    CHECK(q && strstr(q, "mutation UpsertBucket ($id: String,"));
    CHECK(strstr(q, "modelName:$project"));
    CHECK(strstr(q, "historyLineCount"));
    CHECK(strstr(q, "entity {"));
    json_t *v = json_object_get(j, "variables");
    const char *names[] = {"id",          "name",        "project", "entity",        "groupName",
                           "description", "displayName", "notes",   "commit",        "config",
                           "host",        "debug",       "program", "repo",          "jobType",
                           "state",       "sweep",       "tags",    "summaryMetrics"};
    CHECK_EQ(json_object_size(v), sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(json_object_get(v, names[i]) != NULL);
    CHECK(json_is_null(json_object_get(v, "id")));
    CHECK(json_is_null(json_object_get(v, "entity")));
    CHECK(json_is_null(json_object_get(v, "state")));
    CHECK_STREQ(json_string_value(json_object_get(v, "name")), "run1");
    CHECK_STREQ(json_string_value(json_object_get(v, "groupName")), "job-7");
    CHECK_STREQ(json_string_value(json_object_get(v, "config")), "{\"lr\":{\"value\":NaN}}");
    json_t *tags = json_object_get(v, "tags");
    CHECK_EQ(json_array_size(tags), 3);
    CHECK_STREQ(json_string_value(json_array_get(tags, 0)), "a");
    CHECK_STREQ(json_string_value(json_array_get(tags, 1)), "b");
    CHECK_STREQ(json_string_value(json_array_get(tags, 2)), "c");
    json_decref(j);
    wbi_buf_release(&b);
}

// Alert variables and severity mapping; features query shape.
static void test_alert_and_features(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    CHECK_OK(
        wbi_bk_alert_body(&b, "ent", "proj", "run1", "loss high", "it is \"high\"", "WARN", 60000));
    json_t *j = s_parse(&b);
    json_t *v = json_object_get(j, "variables");
    CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "NotifyScriptableRunAlert");
    CHECK_STREQ(json_string_value(json_object_get(v, "severity")), "WARN");
    CHECK_STREQ(json_string_value(json_object_get(v, "text")), "it is \"high\"");
    CHECK_STREQ(json_string_value(json_object_get(v, "runName")), "run1");
    CHECK_EQ(json_integer_value(json_object_get(v, "waitDuration")), 60000);
    json_decref(j);
    wbi_buf_reset(&b);
    CHECK_OK(wbi_bk_alert_body(&b, "e", "p", "r", "t", "x", "bogus", 5));
    j = s_parse(&b);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "variables"), "severity")),
                "INFO");
    json_decref(j);
    wbi_buf_reset(&b);
    CHECK_OK(wbi_bk_features_body(&b));
    j = s_parse(&b);
    CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "ServerFeaturesQuery");
    CHECK(strstr(json_string_value(json_object_get(j, "query")), "features"));
    CHECK(json_object_get(j, "variables") == NULL); // as wandb-core: no key at all
    json_decref(j);
    wbi_buf_release(&b);
}

// Builds a linked list of lines from strings.
static wbi_bk_line_t *s_lines(const char **texts, size_t n)
{
    wbi_list_t list;
    wbi_list_init(&list);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        wbi_bk_line_t *l = wbi_malloc(sizeof *l + len + 1);
        l->len = len;
        memcpy(l->data, texts[i], len + 1);
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

// Lines are JSON strings (escaped, NaN kept as text); complete piggybacks.
static void test_fs_body(void)
{
    const char *texts[] = {"{\"loss\":NaN,\"_step\":0}", "{\"s\":\"a\\\"b\\n\",\"_step\":1}",
                           "{\"t\":\"\xc3\xa9\",\"_step\":2}"};
    wbi_bk_line_t *lines = s_lines(texts, 3);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    size_t taken = 0;
    bool completed = false;
    wbi_bk_fs_t fs = {.offset = 12,
                      .lines = lines,
                      .nlines = 3,
                      .summary = "{\"loss\":Infinity}",
                      .summary_len = 17,
                      .finishing = true,
                      .exit_code = 3};
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(taken, 3);
    CHECK(completed);
    json_t *j = s_parse(&b);
    json_t *hist = json_object_get(json_object_get(j, "files"), "wandb-history.jsonl");
    CHECK_EQ(json_integer_value(json_object_get(hist, "offset")), 12);
    json_t *content = json_object_get(hist, "content");
    CHECK_EQ(json_array_size(content), 3);
    for (size_t i = 0; i < 3; i++)
        CHECK_STREQ(json_string_value(json_array_get(content, i)), texts[i]);
    json_t *sum = json_object_get(json_object_get(j, "files"), "wandb-summary.json");
    CHECK_EQ(json_integer_value(json_object_get(sum, "offset")), 0);
    CHECK_STREQ(json_string_value(json_array_get(json_object_get(sum, "content"), 0)),
                "{\"loss\":Infinity}");
    CHECK(json_is_true(json_object_get(j, "complete")));
    CHECK_EQ(json_integer_value(json_object_get(j, "exitcode")), 3);
    CHECK(json_object_get(j, "preempting") == NULL);
    json_decref(j);

    // Nothing to send: a heartbeat.
    wbi_buf_reset(&b);
    wbi_bk_fs_t hb = {0};
    CHECK_OK(wbi_bk_fs_body(&b, &hb, &taken, &completed));
    CHECK_STREQ(b.data, "{}");
    CHECK_EQ(taken, 0);
    CHECK(!completed);

    // Only complete, and preempting alone.
    wbi_buf_reset(&b);
    wbi_bk_fs_t fin = {.finishing = true, .exit_code = 0};
    CHECK_OK(wbi_bk_fs_body(&b, &fin, &taken, &completed));
    CHECK_STREQ(b.data, "{\"complete\":true,\"exitcode\":0}");
    CHECK(completed);
    wbi_buf_reset(&b);
    wbi_bk_fs_t pre = {.preempting = true};
    CHECK_OK(wbi_bk_fs_body(&b, &pre, &taken, &completed));
    CHECK_STREQ(b.data, "{\"preempting\":true}");
    wbi_buf_release(&b);
    s_free_lines(lines);
}

// A small cap splits the backlog; complete waits for the last chunk.
static void test_fs_split(void)
{
    const char *texts[] = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}", "{\"a\":4}", "{\"a\":5}"};
    wbi_bk_line_t *lines = s_lines(texts, 5);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    size_t taken = 0;
    bool completed = true;
    wbi_bk_fs_t fs = {.lines = lines, .nlines = 5, .finishing = true, .max_bytes = 80};
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK(taken >= 1 && taken < 5);
    CHECK(!completed);
    CHECK(strstr(b.data, "complete") == NULL);
    json_t *j = s_parse(&b);
    json_t *content = json_object_get(
        json_object_get(json_object_get(j, "files"), "wandb-history.jsonl"), "content");
    CHECK_EQ(json_array_size(content), taken);
    json_decref(j);
    // A cap below one line still sends one line.
    wbi_buf_reset(&b);
    fs.max_bytes = 1;
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_EQ(taken, 1);
    wbi_buf_release(&b);
    s_free_lines(lines);
}

// Reads bucket id, entity and historyLineCount; GraphQL errors fail.
static void test_parse_upsert(void)
{
    const char *ok = "{\"data\":{\"upsertBucket\":{\"bucket\":{\"id\":\"QnVja2V0OjE=\","
                     "\"name\":\"r\",\"project\":{\"id\":\"p\",\"name\":\"proj\",\"entity\":"
                     "{\"id\":\"e\",\"name\":\"team\"}},\"historyLineCount\":42},"
                     "\"inserted\":true}}}";
    wbi_bk_bucket_t b;
    char err[128];
    CHECK_OK(wbi_bk_parse_upsert(ok, strlen(ok), &b, err, sizeof err));
    CHECK_STREQ(b.bucket_id, "QnVja2V0OjE=");
    CHECK_STREQ(b.entity, "team");
    CHECK_EQ(b.history_line_count, 42);
    wbi_bk_bucket_release(&b);
    CHECK(b.bucket_id == NULL);

    const char *errs = "{\"data\":{\"upsertBucket\":null},\"errors\":[{\"message\":\"denied\"}]}";
    CHECK_ERR(wbi_bk_parse_upsert(errs, strlen(errs), &b, err, sizeof err), WANDB_EBACKEND);
    CHECK(strstr(err, "denied"));
    const char *empty_errs = "{\"data\":{\"upsertBucket\":{\"bucket\":{\"id\":\"x\"}}},"
                             "\"errors\":[]}";
    CHECK_OK(wbi_bk_parse_upsert(empty_errs, strlen(empty_errs), &b, err, sizeof err));
    CHECK(b.entity == NULL);
    CHECK_EQ(b.history_line_count, 0);
    wbi_bk_bucket_release(&b);
    CHECK_ERR(wbi_bk_parse_upsert("nope", 4, &b, err, sizeof err), WANDB_EPROTO);
    const char *nobucket = "{\"data\":{}}";
    CHECK_ERR(wbi_bk_parse_upsert(nobucket, strlen(nobucket), &b, err, sizeof err), WANDB_EPROTO);
}

// Path segments are percent-encoded.
static void test_urls(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 4096);
    CHECK_OK(wbi_bk_fs_url(&b, "http://h:1/", "my team", "p/q", "run-1_a.b~"));
    CHECK_STREQ(b.data, "http://h:1/files/my%20team/p%2Fq/run-1_a.b~/file_stream");
    wbi_buf_reset(&b);
    CHECK_OK(wbi_bk_url_escape(&b, "\xc3\xa9?#"));
    CHECK_STREQ(b.data, "%C3%A9%3F%23");
    wbi_buf_release(&b);
}

// CreateRunFiles body; its answer matched by name, one entry per name or
// the whole batch is refused; "uploaded" in the file_stream body.
static void test_run_files(void)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    const char *names[] = {"now.txt", "sub/end.txt"};
    CHECK_OK(wbi_bk_files_body(&b, "ent", "proj", "run1", names, 2));
    json_t *j = s_parse(&b);
    CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "CreateRunFiles");
    CHECK(strstr(json_string_value(json_object_get(j, "query")),
                 "mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, "
                 "$files: [String!]!)"));
    json_t *v = json_object_get(j, "variables");
    CHECK_EQ(json_object_size(v), 4);
    CHECK_STREQ(json_string_value(json_object_get(v, "entity")), "ent");
    CHECK_STREQ(json_string_value(json_object_get(v, "project")), "proj");
    CHECK_STREQ(json_string_value(json_object_get(v, "run")), "run1");
    CHECK_STREQ(json_string_value(json_array_get(json_object_get(v, "files"), 1)), "sub/end.txt");
    json_decref(j);

    const char *ans = "{\"data\":{\"createRunFiles\":{\"runID\":\"r\",\"uploadHeaders\":"
                      "[\"X-A:1\",7],\"files\":[{\"name\":\"sub/end.txt\",\"uploadUrl\":"
                      "\"http://h/u/2\"},{\"name\":\"now.txt\",\"uploadUrl\":null}]}}}";
    wbi_bk_files_t f;
    char err[160];
    CHECK_OK(wbi_bk_parse_files(ans, strlen(ans), names, 2, &f, err, sizeof err));
    CHECK_EQ(f.n, 2);
    CHECK(f.urls[0] == NULL); // null uploadUrl: nothing to upload
    CHECK_STREQ(f.urls[1], "http://h/u/2");
    CHECK_EQ(f.nheaders, 1);
    CHECK_STREQ(f.headers[0], "X-A:1");
    wbi_bk_files_release(&f);
    CHECK(f.urls == NULL);
    const char *short_ans = "{\"data\":{\"createRunFiles\":{\"files\":[{\"name\":\"now.txt\","
                            "\"uploadUrl\":\"http://h/u/1\"}]}}}";
    CHECK_ERR(wbi_bk_parse_files(short_ans, strlen(short_ans), names, 2, &f, err, sizeof err),
              WANDB_EPROTO);
    CHECK(strstr(err, "1 files for 2 names"));
    const char *wrong = "{\"data\":{\"createRunFiles\":{\"files\":[{\"name\":\"x\"},"
                        "{\"name\":\"now.txt\"}]}}}";
    CHECK_ERR(wbi_bk_parse_files(wrong, strlen(wrong), names, 2, &f, err, sizeof err),
              WANDB_EPROTO);
    CHECK(strstr(err, "sub/end.txt"));
    const char *gql_err = "{\"errors\":[{\"message\":\"no\"}],\"data\":null}";
    CHECK_ERR(wbi_bk_parse_files(gql_err, strlen(gql_err), names, 2, &f, err, sizeof err),
              WANDB_EBACKEND);

    // "uploaded" rides on a file_stream request, before preempting and complete.
    wbi_buf_reset(&b);
    const char *up[] = {"now.txt", "sub/\"q\".txt"};
    wbi_bk_fs_t fs = {.uploaded = up, .nuploaded = 2, .preempting = true, .finishing = true};
    size_t taken = 0;
    bool completed = false;
    CHECK_OK(wbi_bk_fs_body(&b, &fs, &taken, &completed));
    CHECK_STREQ(b.data, "{\"uploaded\":[\"now.txt\",\"sub/\\\"q\\\".txt\"],\"preempting\":true,"
                        "\"complete\":true,\"exitcode\":0}");
    CHECK(completed);
    wbi_buf_release(&b);
}

WBT_MAIN({"config_wrap", test_config_wrap}, {"upsert_body", test_upsert_body},
         {"alert_and_features", test_alert_and_features}, {"fs_body", test_fs_body},
         {"fs_split", test_fs_split}, {"parse_upsert", test_parse_upsert}, {"urls", test_urls},
         {"run_files", test_run_files})
