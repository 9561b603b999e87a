//  bench_jobview.c - B4 for the job run: its CPU per point and merged-row
//  latency, next to MPI_Gather and MPI_Reduce of the same values per step
//  SPDX-License-Identifier: MIT
//
//  Usage: mpirun -np 2 bench_jobview [points-per-rep] [mpi-steps]
//  (defaults 1000000 and 20000; -np 2 on a 2-core machine, one process a core).
//
//  1. MPI baselines, every process: per step, MPI_Gather of the step's values
//     to process 0 (what a job view built on a collective would gather) and
//     MPI_Reduce (MPI_SUM) of them, each timed around the call with a barrier
//     before each repetition. N simulated ranks over P processes: each process
//     contributes the values of N/P ranks (10 doubles each), so the bytes are
//     those of N ranks; the latency is that of P processes (a collective over
//     N real ranks costs more: log2 N rounds at least).
//  2. The aggregator, process 0 alone (the others wait in a barrier): the ROW
//     messages of N simulated ranks (bench_feed.h, one group, world_size N)
//     replayed into wbi_agg_core_handle, with the job run off and on. CPU per
//     point of each, and the merged-row latency: wall time from the start of
//     handling the message that carries the last rank's row of step s to the
//     job row of s reaching the sink. Checked in every repetition: every rank
//     row reaches the sink, and one job row per step.
//  The training loop pays for (1) at every step on every rank, and for (2)
//  nothing: the aggregator does it on its own core from rows already sent.
#include "aggregator/core.h"
#include "aggregator/history.h"
#include "bench_feed.h"
#include "bench_util.h"
#include "common/buf.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#define S_REPS 5        // timed repetitions (after one warm-up)
#define S_MAX_RANKS 256 // simulated ranks at most

// What one replay saw at the sink.
typedef struct {
    uint64_t rank_lines; // rows of the rank runs
    uint64_t job_lines;  // rows of job runs
    void *job_handle;    // the handle open() gave the job run
    int64_t *done_ns;    // per step: when its job row reached the sink (bu_now_ns)
    int64_t nsteps;      // size of done_ns
    char rank_handle;    // the handle every rank run gets
} s_sink_t;

// Sink: open gives the job run its own handle (its run id starts "job-").
static void *s_open(void *arg, const wbi_run_meta_t *meta)
{
    s_sink_t *s = arg;
    if (strncmp(meta->run_id, "job-", 4) == 0) {
        s->job_handle = &s->job_handle;
        return s->job_handle;
    }
    return &s->rank_handle;
}

// History: counts rows; a job row records when it came. Encodes nothing:
// the JSON edge costs the same with or without the job view per row, and
// bench_aggregator measures it.
static void s_history(void *arg, void *run, const wbi_agg_row_t *row)
{
    s_sink_t *s = arg;
    if (run != s->job_handle) {
        s->rank_lines++;
        return;
    }
    s->job_lines++;
    if (row->step >= 0 && row->step < s->nsteps)
        s->done_ns[row->step] = (int64_t)bu_now_ns();
}

// Summary: not counted.
static void s_summary(void *arg, void *run, const char *json, size_t len)
{
    (void)arg, (void)run, (void)json, (void)len;
}

// Monotonic milliseconds, for the handler's timers.
static int64_t s_mono_ms(void)
{
    return (int64_t)(bu_now_ns() / 1000000u);
}

typedef struct {
    double cpu_ns_per_point; // thread CPU / points
    double lat_p50_us;       // merged-row latency (job run on)
    double lat_p99_us;       // its 99th percentile
    bool bad;                // a row missing, or job rows != steps
} s_rep_t;

// Orders int64_t (qsort).
static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// One replay of the feed into a fresh handler, job run on or off.
static s_rep_t s_replay(const bf_feed_t *f, int nranks, int64_t steps, bool job_run)
{
    s_sink_t s = {.nsteps = steps};
    s.done_ns = calloc((size_t)steps, sizeof(int64_t));
    int64_t *last_ns = calloc((size_t)steps, sizeof(int64_t)); // last rank's row handled
    if (!s.done_ns || !last_ns)
        abort();
    wbi_agg_sink_t sink = {.arg = &s, .open = s_open, .history = s_history, .summary = s_summary};
    wbi_agg_core_opts_t opts = {.no_job_run = !job_run};
    wbi_agg_core_t *core = NULL;
    if (wbi_agg_core_new(&core, &opts, &sink) != WANDB_OK)
        abort();
    char ids[S_MAX_RANKS][16];
    size_t id_len[S_MAX_RANKS];
    for (int r = 0; r < nranks; r++) {
        id_len[r] = (size_t)snprintf(ids[r], sizeof ids[r], "rank-%d", r);
        wbi_agg_core_handle(core, ids[r], id_len[r], f->data + f->hello[r].off, f->hello[r].len,
                            s_mono_ms(), BF_T0);
    }
    uint64_t c0 = bu_thread_cpu_ns();
    for (size_t i = 0; i < f->nrows_msgs; i++) {
        const bf_msg_t *m = &f->rows[i];
        int64_t t = (int64_t)bu_now_ns();
        // The feed is round-robin: the last rank's message completes its steps.
        if ((int)m->rank == nranks - 1 && m->last_step >= 0)
            for (int64_t st = m->last_step; st >= 0 && last_ns[st] == 0; st--)
                last_ns[st] = t;
        wbi_agg_core_handle(core, ids[m->rank], id_len[m->rank], f->data + m->off, m->len,
                            t / 1000000, BF_T0 + 1.0);
        if ((i & 4095) == 4095)
            wbi_agg_core_tick(core, s_mono_ms(), BF_T0 + 1.0);
    }
    wbi_agg_core_tick(core, s_mono_ms(), BF_T0 + 1.0);
    uint64_t c1 = bu_thread_cpu_ns();
    // Every step went out above (each rank reached the last one), so no end
    // of service: it would only mark the unfinished runs crashed.
    wbi_agg_core_destroy(&core);

    s_rep_t rep = {.cpu_ns_per_point = (double)(c1 - c0) / (double)f->points};
    bool want_job = job_run && nranks > 1;
    rep.bad = s.rank_lines != f->lines || s.job_lines != (want_job ? (uint64_t)steps : 0);
    if (want_job) {
        int64_t *lat = calloc((size_t)steps, sizeof(int64_t));
        if (!lat)
            abort();
        int64_t n = 0;
        for (int64_t st = 0; st < steps; st++)
            if (s.done_ns[st] && last_ns[st])
                lat[n++] = s.done_ns[st] - last_ns[st];
        rep.bad |= n != steps;
        if (n > 0) {
            qsort(lat, (size_t)n, sizeof *lat, s_cmp_i64);
            rep.lat_p50_us = (double)lat[n / 2] / 1e3;
            rep.lat_p99_us = (double)lat[(n * 99) / 100] / 1e3;
        }
        free(lat);
    }
    free(s.done_ns);
    free(last_ns);
    return rep;
}

typedef struct {
    double gather_us; // MPI_Gather per step, median of the repetitions
    double reduce_us; // MPI_Reduce per step
} s_mpi_t;

// MPI_Gather and MPI_Reduce of nranks x 10 doubles per step, spread over
// the processes; every process runs it, process 0 gets the medians.
static s_mpi_t s_mpi_baseline(int nranks, int steps)
{
    int me = 0, np = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    int per = nranks / np > 0 ? nranks / np : 1; // simulated ranks of this process
    int count = per * BF_KEYS;
    double *mine = malloc((size_t)count * sizeof(double));
    double *all = malloc((size_t)count * (size_t)np * sizeof(double));
    double *sum = malloc(BF_KEYS * sizeof(double));
    double local[BF_KEYS];
    if (!mine || !all || !sum)
        abort();
    double g[S_REPS], r[S_REPS];
    for (int rep = -1; rep < S_REPS; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int st = 0; st < steps; st++) {
            for (int i = 0; i < count; i++)
                mine[i] = bf_value(me * per + i / BF_KEYS, st, i % BF_KEYS);
            MPI_Gather(mine, count, MPI_DOUBLE, all, count, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        }
        double t1 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        double t2 = MPI_Wtime();
        for (int st = 0; st < steps; st++) {
            // The process's own ranks first (as a node-level reduction would).
            for (int k = 0; k < BF_KEYS; k++)
                local[k] = 0;
            for (int i = 0; i < count; i++)
                local[i % BF_KEYS] += bf_value(me * per + i / BF_KEYS, st, i % BF_KEYS);
            MPI_Reduce(local, sum, BF_KEYS, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        }
        double t3 = MPI_Wtime();
        if (rep >= 0) {
            g[rep] = (t1 - t0) / steps * 1e6;
            r[rep] = (t3 - t2) / steps * 1e6;
        }
    }
    free(mine);
    free(all);
    free(sum);
    bu_stats_t gs = bu_stats(g, S_REPS), rs = bu_stats(r, S_REPS);
    return (s_mpi_t){gs.median, rs.median};
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int me = 0, np = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    uint64_t points = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int mpi_steps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20000;
    if (points < 100000)
        points = 100000;
    if (mpi_steps < 100)
        mpi_steps = 100;
    if (me == 0)
        bu_machine_line("B4 bench_jobview");
    bu_pin(me); // one process a core

    const int ns_list[] = {1, 4, 16, 64, 256};
    s_mpi_t mpi[5];
    for (int ni = 0; ni < 5; ni++)
        mpi[ni] = s_mpi_baseline(ns_list[ni], mpi_steps);

    if (me == 0) {
        fprintf(stderr,
                "\nB4 job run: aggregator CPU per point with the job run off and on, merged-row\n"
                "latency (last rank's row handled -> job row at the sink), and per step the\n"
                "same values through MPI_Gather / MPI_Reduce over %d processes (%d steps).\n"
                "%llu points a rep, medians of %d reps\n"
                "%5s %4s %10s %10s %6s %14s %12s %12s %12s %10s\n",
                np, mpi_steps, (unsigned long long)points, S_REPS, "ranks", "r/m", "off ns/pt",
                "on ns/pt", "on/off", "lat p50/p99 us", "job us/step", "Gather us", "Reduce us",
                "job/Gath");
        const int batch_list[] = {1, 64};
        for (int bi = 0; bi < 2; bi++) {
            for (int ni = 0; ni < 5; ni++) {
                int n = ns_list[ni];
                int64_t steps = (int64_t)(points / BF_KEYS) / n;
                bf_feed_t f;
                bf_feed_build(&f, n, steps, batch_list[bi]);
                double off[S_REPS], on[S_REPS], p50[S_REPS], p99[S_REPS];
                bool bad = false;
                s_replay(&f, n, steps, true); // warm-up
                for (int i = 0; i < S_REPS; i++) {
                    s_rep_t a = s_replay(&f, n, steps, false);
                    s_rep_t b = s_replay(&f, n, steps, true);
                    off[i] = a.cpu_ns_per_point;
                    on[i] = b.cpu_ns_per_point;
                    p50[i] = b.lat_p50_us;
                    p99[i] = b.lat_p99_us;
                    bad |= a.bad || b.bad;
                }
                bf_feed_free(&f);
                bu_stats_t so = bu_stats(off, S_REPS), sn = bu_stats(on, S_REPS);
                bu_stats_t l50 = bu_stats(p50, S_REPS), l99 = bu_stats(p99, S_REPS);
                // The aggregator's CPU for one step of the whole job, job run on.
                double job_step_us = sn.median * BF_KEYS * n / 1e3;
                char variant[80];
                snprintf(variant, sizeof variant, "N=%d ranks x 10 keys, %d rows/msg", n,
                         batch_list[bi]);
                bu_emit_stats("B4", variant, "cpu_ns_per_point_job_run_off", &so, "ns",
                              "target 100 ns", 100.0);
                bu_emit_stats("B4", variant, "cpu_ns_per_point_job_run_on", &sn, "ns",
                              "job run off", so.median);
                bu_emit_stats("B4", variant, "merged_row_latency_p50", &l50, "us", "", 0);
                bu_emit_stats("B4", variant, "merged_row_latency_p99", &l99, "us", "", 0);
                bu_emit("B4", variant, "job_cpu_us_per_step", job_step_us, "us", "MPI_Gather",
                        mpi[ni].gather_us);
                bu_emit("B4", variant, "job_cpu_us_per_step", job_step_us, "us", "MPI_Reduce",
                        mpi[ni].reduce_us);
                bu_emit("B4", variant, "lost_or_malformed", bad ? 1 : 0, "flag", "", 0);
                fprintf(stderr,
                        "%5d %4d %10.1f %10.1f %6.2f %6.1f/%7.1f %12.2f %12.2f %12.2f %9.2fx%s\n",
                        n, batch_list[bi], so.median, sn.median, sn.median / so.median, l50.median,
                        l99.median, job_step_us, mpi[ni].gather_us, mpi[ni].reduce_us,
                        job_step_us / mpi[ni].gather_us, bad ? "  (ROWS MISSING)" : "");
            }
        }
        fprintf(stderr,
                "ranks 1: no job run (world_size 1), so 'on' equals 'off' and there is no "
                "latency.\njob us/step: the aggregator's CPU for one step of all N ranks, job "
                "run on, on its own core;\nGather/Reduce us: wall time each process spends in "
                "the collective per step, inside the\ntraining loop (N/P simulated ranks per "
                "process, %d processes).\n",
                np);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}
