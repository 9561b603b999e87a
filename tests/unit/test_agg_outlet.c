//  test_agg_outlet.c - the aggregator's outlet: every output journaled, counted, read back
//  SPDX-License-Identifier: MIT
#include "cli/jload.h"
#include "common/alloc.h"
#include "outlet/outlet.h"
#include "testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// A fresh temporary directory. A case removes it when it passes
// (wbt_rm_tree); a failed check leaves it, with its journal, for inspection.
static void s_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "%s/wbt-outlet-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
}

// The one journal directory the outlet made under parent.
static void s_journal_dir(const char *parent, char *out, size_t len)
{
    DIR *d = opendir(parent);
    CHECK(d != NULL);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "journal-", 8) == 0) {
            snprintf(out, len, "%s/%s", parent, e->d_name);
            found++;
        }
    }
    closedir(d);
    CHECK_EQ(found, 1);
}

// Hands the outlet one typed history row {key: v} at step (string v when
// text is set), as a run would.
static void s_row(wbi_agg_sink_t *sink, void *run, const char *key, int64_t step, double v,
                  const char *text)
{
    static wbi_agg_names_t names;
    static bool ready;
    if (!ready) {
        wbi_agg_names_init(&names);
        ready = true;
    }
    uint32_t id = wbi_agg_names_intern(&names, key, strlen(key));
    CHECK(id != WBI_MAP_NONE);
    const wbi_agg_name_t *nm = wbi_agg_names_get(&names, id);
    wbi_hval_t val = {.type = WANDB_TYPE_DOUBLE, .as.d = v};
    if (text) {
        val.type = WANDB_TYPE_STRING;
        val.len = (uint32_t)strlen(text);
        val.as.off = 0;
    }
    wbi_agg_row_t row = {.step = step, .n = 1, .names = &nm, .vals = &val, .arena = text};
    sink->history(sink->arg, run, &row);
}

// Normal use, offline: two runs with history, summary, config, an alert, a
// file and a finish; the journal holds exactly that, in order.
static void test_offline_round_trip(void)
{
    char parent[256];
    s_tmpdir(parent, sizeof parent);
    wbi_outlet_opts_t opts = {.journal_dir = parent, .offline = true};
    wbi_outlet_t *o = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&o, &opts, err, sizeof err));
    wbi_agg_sink_t sink = {0};
    wbi_outlet_sink(o, &sink);
    wbi_run_meta_t m1 = {.run_id = "r1",
                         .project = "p",
                         .group = "g",
                         .display_name = "rank-0",
                         .config_json = "{\"lr\":0.1}"};
    wbi_run_meta_t m2 = {.run_id = "r2", .project = "p", .group = "g"};
    void *r1 = sink.open(sink.arg, &m1);
    void *r2 = sink.open(sink.arg, &m2);
    CHECK(r1 && r2);
    for (int i = 0; i < 1000; i++)
        s_row(&sink, i % 2 ? r2 : r1, "loss", i, i + 0.5, NULL);
    sink.summary(sink.arg, r1, "{\"loss\":1}", 10);
    sink.summary(sink.arg, r1, "{\"loss\":2}", 10);
    sink.config(sink.arg, r1, "{\"lr\":0.2}");
    sink.alert(sink.arg, r2, "diverged", "NaN", "WARN", 1000);
    char *data = wbi_malloc(5);
    memcpy(data, "bytes", 5);
    sink.file(sink.arg, r1, "out/a.txt", &data, 5);
    CHECK(data == NULL); // consumed
    sink.finish(sink.arg, r1, 0);
    sink.abandon(sink.arg, r2);
    char ent[64];
    CHECK(!sink.entity(sink.arg, r1, ent, sizeof ent)); // offline: no server to name it
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(o, &st);
    CHECK_EQ(st.runs, 2u);
    CHECK_EQ(st.lines, 1000u);
    CHECK_EQ(st.lines_acked, 0u);
    CHECK_OK(wbi_outlet_finish(o, 1000));
    char dir[512];
    s_journal_dir(parent, dir, sizeof dir);
    CHECK_STREQ(wbi_outlet_journal_dir(o), dir);
    wbi_outlet_destroy(&o);
    CHECK(o == NULL);

    struct stat sb;
    CHECK(stat(dir, &sb) == 0);
    CHECK_EQ(sb.st_mode & 0777, 0700u);
    wbi_jl_session_t s;
    CHECK_OK(wbi_jl_load(&s, dir, err, sizeof err));
    CHECK_EQ(s.ndamage, 0u);
    CHECK_EQ(s.bad, 0u);
    CHECK_STREQ(s.mode, "offline");
    CHECK(s.created > 1e9);
    CHECK_EQ(s.nruns, 2u);
    wbi_jl_run_t *a = &s.runs[0];
    wbi_jl_run_t *b = &s.runs[1];
    CHECK_STREQ(wbi_jl_meta(a, "run_id"), "r1");
    CHECK_STREQ(wbi_jl_meta(a, "display_name"), "rank-0");
    CHECK_EQ(a->nlines, 500u);
    CHECK_EQ(b->nlines, 500u);
    CHECK_STREQ(a->lines[0].data, "{\"loss\":0.5,\"_step\":0,\"_runtime\":0.0,\"_timestamp\":0.0}");
    CHECK_STREQ(b->lines[499].data,
                "{\"loss\":999.5,\"_step\":999,\"_runtime\":0.0,\"_timestamp\":0.0}");
    CHECK_STREQ(a->summary.data, "{\"loss\":2}");
    CHECK_STREQ(a->config.data, "{\"lr\":0.2}");
    CHECK_EQ(json_array_size(b->alerts), 1u);
    CHECK_EQ(a->nfiles, 1u);
    CHECK_STREQ(a->files[0].name, "out/a.txt");
    CHECK_EQ(a->files[0].len, 5u);
    CHECK(memcmp(a->files[0].data, "bytes", 5) == 0);
    CHECK(a->finished && a->exit_code == 0 && !a->abandoned);
    CHECK(!b->finished && b->abandoned);
    CHECK(!a->acked && !b->acked);
    wbi_jl_release(&s);
    CHECK(wbt_rm_tree(parent) == 0);
}

// Offline needs a place for the journal.
static void test_offline_needs_dir(void)
{
    wbi_outlet_opts_t opts = {.offline = true};
    wbi_outlet_t *o = NULL;
    char err[256];
    CHECK_ERR(wbi_outlet_new(&o, &opts, err, sizeof err), WANDB_EINVAL);
    CHECK(o == NULL);
    CHECK(strstr(err, "dir") != NULL);
}

// A journal that cannot be created is an error naming the path.
static void test_unwritable_dir(void)
{
    if (geteuid() == 0) {
        // root writes anywhere: use a path under a regular file instead.
        char parent[256];
        s_tmpdir(parent, sizeof parent);
        char file[300];
        snprintf(file, sizeof file, "%s/file", parent);
        FILE *f = fopen(file, "w");
        CHECK(f != NULL);
        fclose(f);
        wbi_outlet_opts_t opts = {.journal_dir = file, .offline = true};
        wbi_outlet_t *o = NULL;
        char err[512];
        CHECK(wbi_outlet_new(&o, &opts, err, sizeof err) != WANDB_OK);
        CHECK(strstr(err, file) != NULL);
        CHECK(wbt_rm_tree(parent) == 0);
        return;
    }
    wbi_outlet_opts_t opts = {.journal_dir = "/proc/no-journal-here", .offline = true};
    wbi_outlet_t *o = NULL;
    char err[512];
    CHECK(wbi_outlet_new(&o, &opts, err, sizeof err) != WANDB_OK);
    CHECK(strstr(err, "/proc/no-journal-here") != NULL);
}

// Past journal_max_bytes records are refused and counted, finish says so,
// and what was kept reads back.
static void test_journal_full(void)
{
    char parent[256];
    s_tmpdir(parent, sizeof parent);
    wbi_outlet_opts_t opts = {
        .journal_dir = parent, .offline = true, .journal_max_bytes = 64 * 1024};
    wbi_outlet_t *o = NULL;
    CHECK_OK(wbi_outlet_new(&o, &opts, NULL, 0));
    wbi_agg_sink_t sink = {0};
    wbi_outlet_sink(o, &sink);
    wbi_run_meta_t m = {.run_id = "full", .project = "p"};
    void *r = sink.open(sink.arg, &m);
    char line[200];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    for (int i = 0; i < 1000; i++)
        s_row(&sink, r, "text", i, 0, line);
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(o, &st);
    CHECK(st.journal_drops > 0);
    CHECK(st.journal_drops < 1000);
    CHECK_ERR(wbi_outlet_finish(o, 100), WANDB_EFULL);
    wbi_outlet_destroy(&o);
    char dir[512];
    s_journal_dir(parent, dir, sizeof dir);
    wbi_jl_session_t s;
    char err[256];
    CHECK_OK(wbi_jl_load(&s, dir, err, sizeof err));
    CHECK_EQ(s.nruns, 1u);
    CHECK_EQ((uint64_t)s.runs[0].nlines + st.journal_drops, 1000u);
    wbi_jl_release(&s);
    CHECK(wbt_rm_tree(parent) == 0);
}

WBT_MAIN({"offline_round_trip", test_offline_round_trip},
         {"offline_needs_dir", test_offline_needs_dir}, {"unwritable_dir", test_unwritable_dir},
         {"journal_full", test_journal_full})
