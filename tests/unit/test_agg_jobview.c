//  test_agg_jobview.c - the job run: reductions, stragglers, lateness, state, config
//  SPDX-License-Identifier: MIT
//
//  Drives the real aggregator core with four ranks of one group and records
//  every run the sink sees; reductions are checked against values computed
//  here from what the ranks sent.
#include "test_agg_util.h"
#include <jansson.h>
#include <math.h>

#define S_RUNS 8
#define S_RANKS 4

// One run as the sink saw it.
typedef struct {
    char run_id[64];
    char name[32];
    char job_type[32];
    json_t *rows;    // history rows (parsed)
    json_t *summary; // last summary
    json_t *config;  // last config
    int finished;    // finish calls
    int exit_code;   // last exit code
    int abandoned;   // abandon calls
    int preempting;  // preempting calls
} s_run_t;

typedef struct {
    s_run_t runs[S_RUNS];
    int n;
} s_sink_t;

static void *s_open(void *arg, const wbi_run_meta_t *meta)
{
    s_sink_t *s = arg;
    CHECK(s->n < S_RUNS);
    s_run_t *r = &s->runs[s->n++];
    snprintf(r->run_id, sizeof r->run_id, "%s", meta->run_id);
    snprintf(r->name, sizeof r->name, "%s", meta->display_name ? meta->display_name : "");
    snprintf(r->job_type, sizeof r->job_type, "%s", meta->job_type ? meta->job_type : "");
    r->rows = json_array();
    return r;
}

static void s_history(void *arg, void *run, const wbi_agg_row_t *row)
{
    (void)arg;
    s_run_t *r = run;
    wbi_buf_t line;
    wbi_buf_init(&line, 1u << 20);
    CHECK_OK(wbi_agg_row_encode(row, &line));
    json_error_t e;
    json_t *j = json_loads(line.data, 0, &e);
    CHECK(j != NULL);
    json_array_append_new(r->rows, j);
    wbi_buf_release(&line);
}

static void s_summary(void *arg, void *run, const char *json, size_t len)
{
    (void)arg;
    s_run_t *r = run;
    json_decref(r->summary);
    r->summary = json_loadb(json, len, 0, NULL);
}

static void s_config(void *arg, void *run, const char *json)
{
    (void)arg;
    s_run_t *r = run;
    json_decref(r->config);
    r->config = json_loads(json, 0, NULL);
}

static void s_finish(void *arg, void *run, int code)
{
    (void)arg;
    s_run_t *r = run;
    r->finished++;
    r->exit_code = code;
}

static void s_abandon(void *arg, void *run)
{
    (void)arg;
    ((s_run_t *)run)->abandoned++;
}

static void s_preempting(void *arg, void *run)
{
    (void)arg;
    ((s_run_t *)run)->preempting++;
}

static void s_free(s_sink_t *s)
{
    for (int i = 0; i < s->n; i++) {
        json_decref(s->runs[i].rows);
        json_decref(s->runs[i].summary);
        json_decref(s->runs[i].config);
    }
    memset(s, 0, sizeof *s);
}

// The run the sink calls "job" (there must be exactly one).
static s_run_t *s_job(s_sink_t *s)
{
    s_run_t *job = NULL;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->runs[i].name, "job") == 0) {
            CHECK(job == NULL);
            job = &s->runs[i];
        }
    CHECK(job != NULL);
    CHECK_STREQ(job->job_type, "mpi-job");
    return job;
}

static wbi_agg_core_t *s_core(s_sink_t *s, bool rank_runs)
{
    wbi_agg_core_opts_t o = {.heartbeat_timeout_ms = 1000,
                             .summary_interval_ms = 20,
                             .job_lateness_ms = 500,
                             .no_rank_runs = !rank_runs};
    wbi_agg_sink_t sink = {.arg = s,
                           .open = s_open,
                           .history = s_history,
                           .summary = s_summary,
                           .config = s_config,
                           .finish = s_finish,
                           .abandon = s_abandon,
                           .preempting = s_preempting};
    wbi_agg_core_t *c = NULL;
    CHECK_OK(wbi_agg_core_new(&c, &o, &sink));
    return c;
}

// HELLO of rank r in group g (keys 1 = loss, 2 = acc), at mono 0.
static void s_hello(wbi_agg_core_t *c, t_msg_t *m, int r, const char *extra)
{
    char hello[512];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"run-%d\",\"project\":\"p\",\"group\":\"g\",\"rank\":%d,"
             "\"world_size\":%d,\"start_time\":100.0,\"config\":{\"lr\":0.1,\"seed\":%d}}",
             r, r, S_RANKS, r);
    t_begin(m);
    t_put(m, WBI_REC_HELLO, hello);
    t_key(m, 1, "loss");
    t_key(m, 2, "acc");
    if (extra)
        t_put(m, WBI_REC_REDUCE, extra);
    t_send(c, r, m, 0);
}

static double s_loss(int r, int step)
{
    return r * 10.0 + step + (r == 3 ? 0.5 : 0);
}

// Rank r logs step (loss, acc) at mono time ms.
static void s_log(wbi_agg_core_t *c, t_msg_t *m, int r, int step, int64_t ms)
{
    uint32_t ids[2] = {1, 2};
    wandb_value_t v[2] = {WANDB_DOUBLE("loss", s_loss(r, step)),
                          WANDB_DOUBLE("acc", step / (r + 1.0))};
    t_begin(m);
    t_row(m, step, 200.0 + step, true, 2, ids, v);
    t_send(c, r, m, ms);
}

static void s_finish_rank(wbi_agg_core_t *c, t_msg_t *m, int r, int code, int64_t ms)
{
    t_begin(m);
    t_finish_rec(m, code, 0, 0);
    t_send(c, r, m, ms);
}

static double s_num(const json_t *row, const char *key)
{
    const json_t *v = json_object_get(row, key);
    CHECK(json_is_number(v));
    return json_number_value(v);
}

// Every declared reduction of every step equals the value computed from
// what the ranks logged; undeclared metrics get the mean only; straggler
// figures name the late rank; the job run finishes with its members.
static void test_reductions(void)
{
    s_sink_t s = {0};
    wbi_agg_core_t *c = s_core(&s, true);
    t_msg_t m[S_RANKS] = {0};
    for (int r = 0; r < S_RANKS; r++)
        s_hello(c, &m[r], r,
                r == 0 ? "{\"name\":\"loss\",\"reduce\":\"mean,min,max,sum,std,argmin,argmax\"}"
                       : NULL);
    const int steps = 20;
    for (int step = 0; step < steps; step++)
        for (int r = 0; r < S_RANKS; r++) // rank 2 arrives 50 ms after the others
            s_log(c, &m[r], r, step, step * 100 + (r == 2 ? 50 : r));
    for (int r = 0; r < S_RANKS; r++)
        s_finish_rank(c, &m[r], r, 0, 3000);
    t_ticks(c, 3000, 3100);
    s_run_t *job = s_job(&s);
    CHECK_EQ(s.n, S_RANKS + 1);
    CHECK_EQ(json_array_size(job->rows), (size_t)steps);
    for (int step = 0; step < steps; step++) {
        const json_t *row = json_array_get(job->rows, (size_t)step);
        CHECK_EQ((long long)s_num(row, "_step"), step);
        double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY, acc = 0;
        int amin = -1, amax = -1;
        for (int r = 0; r < S_RANKS; r++) {
            double v = s_loss(r, step);
            sum += v;
            acc += step / (r + 1.0);
            if (v < mn) {
                mn = v;
                amin = r;
            }
            if (v > mx) {
                mx = v;
                amax = r;
            }
        }
        double mean = sum / S_RANKS;
        for (int r = 0; r < S_RANKS; r++)
            sq += (s_loss(r, step) - mean) * (s_loss(r, step) - mean);
        CHECK(fabs(s_num(row, "loss") - mean) < 1e-9);
        CHECK(fabs(s_num(row, "loss/sum") - sum) < 1e-9);
        CHECK(fabs(s_num(row, "loss/std") - sqrt(sq / S_RANKS)) < 1e-9);
        CHECK_EQ_DBL(s_num(row, "loss/min"), mn);
        CHECK_EQ_DBL(s_num(row, "loss/max"), mx);
        CHECK_EQ((int)s_num(row, "loss/min_rank"), amin);
        CHECK_EQ((int)s_num(row, "loss/max_rank"), amax);
        CHECK(fabs(s_num(row, "acc") - acc / S_RANKS) < 1e-9);
        CHECK(json_object_get(row, "acc/min") == NULL);
        CHECK_EQ((int)s_num(row, "mpi/ranks"), S_RANKS);
        CHECK_EQ((int)s_num(row, "mpi/slowest_rank"), 2);
        CHECK_EQ_DBL(s_num(row, "mpi/skew_ms"), 50.0);
        CHECK(s_num(row, "mpi_lag/rank-2") > s_num(row, "mpi_lag/rank-1"));
    }
    CHECK_EQ(job->finished, 1);
    CHECK_EQ(job->exit_code, 0);
    // The common config: lr is shared, seed is not.
    CHECK(job->config != NULL);
    CHECK_EQ_DBL(json_real_value(json_object_get(job->config, "lr")), 0.1);
    CHECK(json_object_get(job->config, "seed") == NULL);
    for (int r = 0; r < S_RANKS; r++)
        t_msg_free(&m[r]);
    wbi_agg_core_destroy(&c);
    s_free(&s);
}

// Ranks that each finish before the next one's run has joined: every step
// of the job run still holds every rank (a step waits for the expected ranks
// to join, within the lateness bound, even while no joined rank is live).
static void test_ranks_join_after_others_finished(void)
{
    s_sink_t s = {0};
    wbi_agg_core_t *c = s_core(&s, true);
    t_msg_t m[S_RANKS] = {0};
    const int steps = 5;
    for (int r = 0; r < S_RANKS; r++) {
        s_hello(c, &m[r], r, NULL);
        for (int step = 0; step < steps; step++)
            s_log(c, &m[r], r, step, r * 10 + step);
        s_finish_rank(c, &m[r], r, 0, r * 10 + steps);
        t_ticks(c, r * 10 + steps, r * 10 + steps + 1);
    }
    t_ticks(c, 100, 200);
    s_run_t *job = s_job(&s);
    CHECK_EQ(json_array_size(job->rows), (size_t)steps);
    for (int step = 0; step < steps; step++) {
        const json_t *row = json_array_get(job->rows, (size_t)step);
        double mean = 0;
        for (int r = 0; r < S_RANKS; r++)
            mean += s_loss(r, step) / S_RANKS;
        CHECK_EQ((int)s_num(row, "mpi/ranks"), S_RANKS);
        CHECK(fabs(s_num(row, "loss") - mean) < 1e-9);
    }
    CHECK_EQ(job->finished, 1);
    for (int r = 0; r < S_RANKS; r++)
        t_msg_free(&m[r]);
    wbi_agg_core_destroy(&c);
    s_free(&s);
}

// A rank that skips a step does not hold it; a rank that stops holds a step
// at most the lateness bound; its later rows are counted as late.
static void test_skip_and_lateness(void)
{
    s_sink_t s = {0};
    wbi_agg_core_t *c = s_core(&s, true);
    t_msg_t m[S_RANKS] = {0};
    for (int r = 0; r < S_RANKS; r++)
        s_hello(c, &m[r], r, NULL);
    for (int r = 0; r < S_RANKS; r++)
        s_log(c, &m[r], r, 0, 10);
    for (int r = 0; r < S_RANKS; r++)
        if (r != 3)
            s_log(c, &m[r], r, 1, 20); // rank 3 skips step 1
    s_log(c, &m[3], 3, 2, 30);
    s_run_t *job = s_job(&s);
    CHECK_EQ(json_array_size(job->rows), 2u); // steps 0 and 1, without waiting
    CHECK_EQ((int)s_num(json_array_get(job->rows, 1), "mpi/ranks"), 3);
    for (int r = 0; r < 3; r++) // rank 3 is silent from now on (but alive)
        s_log(c, &m[r], r, 2, 40);
    s_log(c, &m[0], 0, 3, 50);
    s_log(c, &m[1], 1, 3, 50);
    t_ticks(c, 60, 400);
    CHECK_EQ(json_array_size(job->rows), 3u); // step 2 complete; step 3 waits for 2 and 3
    t_ticks(c, 420, 700);
    CHECK_EQ(json_array_size(job->rows), 4u); // the lateness bound let step 3 go
    CHECK_EQ((int)s_num(json_array_get(job->rows, 3), "mpi/ranks"), 2);
    s_log(c, &m[2], 2, 3, 710); // late: its own run has it, the job run counts it
    s_log(c, &m[2], 2, 4, 720);
    for (int r = 0; r < S_RANKS; r++)
        s_finish_rank(c, &m[r], r, 0, 800);
    t_ticks(c, 800, 900);
    CHECK_EQ(json_array_size(job->rows), 5u);
    CHECK_EQ((int)s_num(json_array_get(job->rows, 4), "mpi/late_values"), 2);
    s_run_t *rank2 = NULL;
    for (int i = 0; i < s.n; i++)
        if (strcmp(s.runs[i].run_id, "run-2") == 0)
            rank2 = &s.runs[i];
    CHECK(rank2 != NULL);
    CHECK_EQ(json_array_size(rank2->rows), 5u); // nothing lost in the rank's run
    for (int r = 0; r < S_RANKS; r++)
        t_msg_free(&m[r]);
    wbi_agg_core_destroy(&c);
    s_free(&s);
}

// A rank that goes silent is crashed while the others go on; the job run
// ends crashed and names it; a non-zero exit is the first failure when it
// comes first.
static void test_failures(void)
{
    for (int variant = 0; variant < 2; variant++) {
        s_sink_t s = {0};
        wbi_agg_core_t *c = s_core(&s, true);
        t_msg_t m[S_RANKS] = {0};
        for (int r = 0; r < S_RANKS; r++)
            s_hello(c, &m[r], r, NULL);
        for (int step = 0; step < 5; step++)
            for (int r = 0; r < S_RANKS; r++)
                s_log(c, &m[r], r, step, step * 10);
        if (variant == 0) { // rank 1 dies; the others log on (heartbeat 1 s)
            for (int step = 5; step < 40; step++)
                for (int r = 0; r < S_RANKS; r++)
                    if (r != 1) {
                        s_log(c, &m[r], r, step, step * 50);
                        wbi_agg_core_tick(c, step * 50, 200.0 + step * 0.05);
                    }
        } else { // rank 2 fails with exit code 3, then the rest is torn down
            s_finish_rank(c, &m[2], 2, 3, 100);
        }
        for (int r = 0; r < S_RANKS; r++)
            if (r != 1 && r != 2)
                s_finish_rank(c, &m[r], r, 0, 2100);
        if (variant == 0)
            s_finish_rank(c, &m[2], 2, 0, 2100);
        else // rank 1 is found silent later than rank 2 failed
            for (int64_t t = 2100; t <= 3400; t += 20)
                wbi_agg_core_tick(c, t, 200.0 + t / 1000.0);
        t_ticks(c, 3400, 3500);
        s_run_t *job = s_job(&s);
        CHECK(job->summary != NULL);
        const json_t *sum = job->summary;
        if (variant == 0) {
            CHECK_EQ(json_array_size(job->rows), 40u);
            CHECK_EQ((int)s_num(json_array_get(job->rows, 30), "mpi/ranks"), 3);
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/first_failure/rank")), 1);
            CHECK_STREQ(json_string_value(json_object_get(sum, "mpi/first_failure/state")),
                        "crashed");
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/first_failure/last_step")), 4);
            // Its last sign of life: its last row (_timestamp 204), not zero.
            CHECK(s_num(sum, "mpi/first_failure/time") >= 204.0);
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/ranks_crashed")), 1);
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/ranks_preempted")), 0);
            CHECK_EQ(job->finished, 0);
            CHECK_EQ(job->abandoned, 1);
        } else {
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/first_failure/rank")), 2);
            CHECK_EQ(json_integer_value(json_object_get(sum, "mpi/first_failure/exit_code")), 3);
            CHECK_STREQ(json_string_value(json_object_get(sum, "mpi/first_failure/state")),
                        "failed");
            CHECK_EQ(job->abandoned, 1); // rank 1 never finished
        }
        for (int r = 0; r < S_RANKS; r++)
            t_msg_free(&m[r]);
        wbi_agg_core_destroy(&c);
        s_free(&s);
    }
}

// A core with S_RANKS ranks that said HELLO and logged steps 0..steps-1,
// except quiet_rank from step quiet_from on (quiet_rank -1: none).
static wbi_agg_core_t *s_started(s_sink_t *s, t_msg_t *m, int steps, int quiet_rank, int quiet_from)
{
    wbi_agg_core_t *c = s_core(s, true);
    for (int r = 0; r < S_RANKS; r++)
        s_hello(c, &m[r], r, NULL);
    for (int step = 0; step < steps; step++)
        for (int r = 0; r < S_RANKS; r++)
            if (r != quiet_rank || step < quiet_from)
                s_log(c, &m[r], r, step, step * 10);
    return c;
}

// Frees what s_started made.
static void s_stopped(wbi_agg_core_t **c, t_msg_t *m, s_sink_t *s)
{
    for (int r = 0; r < S_RANKS; r++)
        t_msg_free(&m[r]);
    wbi_agg_core_destroy(c);
    s_free(s);
}

// mpirun's report names the first failure of a rank that died without a
// finish: its exit code, and its last sign of life from its rows.
static void test_first_failure_from_mpirun(void)
{
    s_sink_t s = {0};
    t_msg_t m[S_RANKS] = {0};
    wbi_agg_core_t *c = s_started(&s, m, 5, 1, 3);
    wbi_agg_core_rank_exit(c, 1, 137, true);
    CHECK_EQ(wbi_agg_core_shutdown(c, 300.0), S_RANKS);
    s_run_t *job = s_job(&s);
    const json_t *sum = job->summary;
    CHECK(sum != NULL);
    CHECK_EQ_I64(json_integer_value(json_object_get(sum, "mpi/first_failure/rank")), 1);
    CHECK_EQ_I64(json_integer_value(json_object_get(sum, "mpi/first_failure/exit_code")), 137);
    CHECK_EQ_I64(json_integer_value(json_object_get(sum, "mpi/first_failure/last_step")), 2);
    CHECK_EQ_DBL(s_num(sum, "mpi/first_failure/time"), 202.0);
    s_stopped(&c, m, &s);
}

// Preempted ranks are counted as preempted, not crashed, in the job run's
// summary and in the aggregator's counts.
static void test_preempted_not_crashed(void)
{
    s_sink_t s = {0};
    t_msg_t m[S_RANKS] = {0};
    wbi_agg_core_t *c = s_started(&s, m, 3, -1, 0);
    CHECK_EQ(wbi_agg_core_preempt(c), S_RANKS);
    CHECK_EQ(wbi_agg_core_shutdown(c, 300.0), S_RANKS);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ_U64(st.runs_preempted, S_RANKS);
    CHECK_EQ_U64(st.runs_crashed, 0);
    const json_t *sum = s_job(&s)->summary;
    CHECK_EQ_I64(json_integer_value(json_object_get(sum, "mpi/ranks_preempted")), S_RANKS);
    CHECK_EQ_I64(json_integer_value(json_object_get(sum, "mpi/ranks_crashed")), 0);
    CHECK(json_object_get(sum, "mpi/first_failure/rank") == NULL);
    s_stopped(&c, m, &s);
}

// Two jobs given the same group (two aggregators) get two job runs.
static void test_same_group_two_job_runs(void)
{
    char ids[2][64];
    for (int k = 0; k < 2; k++) {
        s_sink_t s = {0};
        t_msg_t m[S_RANKS] = {0};
        wbi_agg_core_t *c = s_started(&s, m, 0, -1, 0);
        snprintf(ids[k], sizeof ids[k], "%s", s_job(&s)->run_id);
        CHECK(strncmp(ids[k], "job-", 4) == 0);
        s_stopped(&c, m, &s);
    }
    CHECK(strcmp(ids[0], ids[1]) != 0);
}

// Per-rank runs off: the sink sees the job run only, with the same rows;
// a preemption notice of a rank reaches it.
static void test_rank_runs_off(void)
{
    s_sink_t s = {0};
    wbi_agg_core_t *c = s_core(&s, false);
    t_msg_t m[S_RANKS] = {0};
    for (int r = 0; r < S_RANKS; r++)
        s_hello(c, &m[r], r, NULL);
    for (int step = 0; step < 10; step++)
        for (int r = 0; r < S_RANKS; r++)
            s_log(c, &m[r], r, step, step * 10);
    t_begin(&m[1]);
    t_put(&m[1], WBI_REC_PREEMPTING, "");
    t_send(c, 1, &m[1], 200);
    for (int r = 0; r < S_RANKS; r++)
        s_finish_rank(c, &m[r], r, 0, 300);
    t_ticks(c, 300, 400);
    CHECK_EQ(s.n, 1);
    s_run_t *job = s_job(&s);
    CHECK_EQ(json_array_size(job->rows), 10u);
    CHECK_EQ(job->preempting, 1);
    CHECK_EQ(job->finished, 1);
    for (int r = 0; r < S_RANKS; r++)
        t_msg_free(&m[r]);
    wbi_agg_core_destroy(&c);
    s_free(&s);
}

// A single process (world_size 1) gets no job run.
static void test_no_job_for_one_rank(void)
{
    s_sink_t s = {0};
    wbi_agg_core_t *c = s_core(&s, true);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_send(c, 0, &m, 0);
    t_ticks(c, 0, 100);
    CHECK_EQ(s.n, 1);
    t_msg_free(&m);
    wbi_agg_core_destroy(&c);
    s_free(&s);
}

WBT_MAIN({"reductions", test_reductions}, {"skip_and_lateness", test_skip_and_lateness},
         {"ranks_join_after_others_finished", test_ranks_join_after_others_finished},
         {"failures", test_failures}, {"first_failure_from_mpirun", test_first_failure_from_mpirun},
         {"preempted_not_crashed", test_preempted_not_crashed},
         {"same_group_two_job_runs", test_same_group_two_job_runs},
         {"rank_runs_off", test_rank_runs_off}, {"no_job_for_one_rank", test_no_job_for_one_rank})
