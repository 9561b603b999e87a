//  bench_aggregator.c - B4 + B7: aggregator CPU per point and encoder MB/s
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_aggregator [points-per-rep]   (default 2000000)
//  Replay mode (BENCHMARKS.md 6.1 c): the HELLO, KEY and ROW messages of N
//  simulated ranks (N = 1, 4, 16, 64, 256; bench_feed.h) are fed, rank
//  after rank in round-robin order as a ROUTER would deliver them, straight
//  into the aggregator's socket-free message handler
//  (wbi_agg_core_handle), whose sink only counts the bytes of the history
//  lines (no backend). Timers run every 4096 messages, as in the loop. The
//  feeding thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over the ROW messages
//  is the aggregator's cost: decode, merge, history line, summaries. The
//  job run is off here; bench_jobview measures it.
//  HELLO and KEY messages are handled before the clock starts.
//  Baselines in the same run, on the same rows: jansson building and dumping
//  each row (json_object_set_new + json_dumps), stdio fprintf of the JSONL
//  row ("%.17g"), and the aggregator's own line encoder alone (key prefix +
//  wbi_jsonx_put_double + wbi_hist_put_special, as wbi_agg_row_encode does).
#include "aggregator/core.h"
#include "aggregator/history.h"
#include "bench_feed.h"
#include "bench_util.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_REPS 5 // timed repetitions (after one warm-up)

typedef struct {
    uint64_t lines;         // history lines
    uint64_t line_bytes;    // their bytes
    uint64_t summaries;     // summaries
    uint64_t summary_bytes; // their bytes
} s_sink_counts_t;

// Sink: open gives a dummy handle; history encodes each typed row as the
// outlet does (the JSON edge) and counts the bytes; summary counts bytes.
static void *s_open(void *arg, const wbi_run_meta_t *meta)
{
    (void)meta;
    return arg;
}
static void s_history(void *arg, void *run, const wbi_agg_row_t *row)
{
    (void)run;
    static wbi_buf_t line;
    if (!line.max)
        wbi_buf_init(&line, WBI_LINE_MAX);
    s_sink_counts_t *c = arg;
    if (wbi_agg_row_encode(row, &line) != WANDB_OK)
        return;
    c->lines++;
    c->line_bytes += line.len + 1; // the newline of the JSONL file
}
static void s_summary(void *arg, void *run, const char *json, size_t len)
{
    (void)run, (void)json;
    s_sink_counts_t *c = arg;
    c->summaries++;
    c->summary_bytes += len;
}

// Monotonic milliseconds, for the handler's timers.
static int64_t s_mono_ms(void)
{
    return (int64_t)(bu_now_ns() / 1000000u);
}

typedef struct {
    double cpu_ns_per_point; // thread CPU / points
    double wall_pps;         // points / wall second
    double mbps;             // history bytes / CPU second
    uint64_t lines;          // lines counted (check: == feed lines)
    uint64_t malformed;      // handler complaints (check: 0)
    uint64_t summaries;      // summaries built during the ROW messages
} s_agg_rep_t;

// One repetition: fresh handler, HELLO/KEY untimed, ROW messages timed.
static s_agg_rep_t s_agg_rep(const bf_feed_t *f, int nranks)
{
    s_sink_counts_t counts = {0};
    wbi_agg_sink_t sink = {
        .arg = &counts, .open = s_open, .history = s_history, .summary = s_summary};
    // The per-rank runs alone: bench_jobview measures the job run on top.
    wbi_agg_core_opts_t opts = {.no_job_run = true};
    wbi_agg_core_t *core = NULL;
    if (wbi_agg_core_new(&core, &opts, &sink) != WANDB_OK)
        abort();
    char ids[256][16];
    size_t id_len[256];
    for (int r = 0; r < nranks; r++)
        id_len[r] = (size_t)snprintf(ids[r], sizeof ids[r], "rank-%d", r);
    for (int r = 0; r < nranks; r++)
        wbi_agg_core_handle(core, ids[r], id_len[r], f->data + f->hello[r].off, f->hello[r].len,
                            s_mono_ms(), BF_T0);
    uint64_t s0 = counts.summaries;
    uint64_t c0 = bu_thread_cpu_ns();
    uint64_t w0 = bu_now_ns();
    for (size_t i = 0; i < f->nrows_msgs; i++) {
        const bf_msg_t *m = &f->rows[i];
        int64_t now = s_mono_ms();
        wbi_agg_core_handle(core, ids[m->rank], id_len[m->rank], f->data + m->off, m->len, now,
                            BF_T0 + 1.0);
        if ((i & 4095) == 4095)
            wbi_agg_core_tick(core, now, BF_T0 + 1.0);
    }
    wbi_agg_core_tick(core, s_mono_ms(), BF_T0 + 1.0);
    uint64_t c1 = bu_thread_cpu_ns();
    uint64_t w1 = bu_now_ns();
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(core, &st, NULL);
    wbi_agg_core_destroy(&core);
    s_agg_rep_t rep = {
        .cpu_ns_per_point = (double)(c1 - c0) / (double)f->points,
        .wall_pps = (double)f->points / ((double)(w1 - w0) / 1e9),
        .mbps = (double)counts.line_bytes / ((double)(c1 - c0) / 1e9) / 1e6,
        .lines = counts.lines,
        .malformed = st.malformed,
        .summaries = counts.summaries - s0,
    };
    return rep;
}

typedef struct {
    double ns_per_point;  // CPU ns per point
    double mbps;          // bytes produced per CPU second
    double bytes_per_row; // mean line length incl. newline
} s_base_t;

// Baseline: jansson object per row, json_dumps, free.
static s_base_t s_jansson(int64_t rows)
{
    uint64_t bytes = 0;
    uint64_t c0 = bu_thread_cpu_ns();
    for (int64_t step = 0; step < rows; step++) {
        json_t *o = json_object();
        for (int k = 0; k < BF_KEYS; k++)
            json_object_set_new(o, bf_names[k], json_real(bf_value(0, step, k)));
        double ts = BF_T0 + 1.0 + (double)step * 0.01;
        json_object_set_new(o, "_step", json_integer(step));
        json_object_set_new(o, "_runtime", json_real(ts - BF_T0));
        json_object_set_new(o, "_timestamp", json_real(ts));
        char *text = json_dumps(o, JSON_COMPACT);
        bytes += strlen(text) + 1;
        free(text);
        json_decref(o);
    }
    uint64_t c1 = bu_thread_cpu_ns();
    double cpu = (double)(c1 - c0);
    return (s_base_t){cpu / (double)(rows * BF_KEYS), (double)bytes / (cpu / 1e9) / 1e6,
                      (double)bytes / (double)rows};
}

// Baseline: stdio fprintf of the JSONL row to /dev/null ("%.17g").
static s_base_t s_fprintf(int64_t rows)
{
    FILE *f = fopen("/dev/null", "w");
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    uint64_t bytes = 0;
    uint64_t c0 = bu_thread_cpu_ns();
    for (int64_t step = 0; step < rows; step++) {
        double v[BF_KEYS];
        for (int k = 0; k < BF_KEYS; k++)
            v[k] = bf_value(0, step, k);
        double ts = BF_T0 + 1.0 + (double)step * 0.01;
        int n = fprintf(f,
                        "{\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,"
                        "\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,"
                        "\"_step\":%lld,\"_runtime\":%.17g,\"_timestamp\":%.17g}\n",
                        bf_names[0], v[0], bf_names[1], v[1], bf_names[2], v[2], bf_names[3], v[3],
                        bf_names[4], v[4], bf_names[5], v[5], bf_names[6], v[6], bf_names[7], v[7],
                        bf_names[8], v[8], bf_names[9], v[9], (long long)step, ts - BF_T0, ts);
        bytes += n > 0 ? (uint64_t)n : 0;
    }
    fflush(f);
    uint64_t c1 = bu_thread_cpu_ns();
    fclose(f);
    double cpu = (double)(c1 - c0);
    return (s_base_t){cpu / (double)(rows * BF_KEYS), (double)bytes / (cpu / 1e9) / 1e6,
                      (double)bytes / (double)rows};
}

// The aggregator's line encoder alone: what wbi_agg_row_encode does per emitted row.
static s_base_t s_encoder(int64_t rows)
{
    char prefix[BF_KEYS][24];
    size_t prefix_len[BF_KEYS];
    for (int k = 0; k < BF_KEYS; k++)
        prefix_len[k] = (size_t)snprintf(prefix[k], sizeof prefix[k], "\"%s\":", bf_names[k]);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    uint64_t bytes = 0;
    uint64_t c0 = bu_thread_cpu_ns();
    for (int64_t step = 0; step < rows; step++) {
        wbi_buf_reset(&b);
        wbi_buf_putc(&b, '{');
        for (int k = 0; k < BF_KEYS; k++) {
            wbi_hval_t v = {.type = WANDB_TYPE_DOUBLE, .as.d = bf_value(0, step, k)};
            wbi_buf_append(&b, prefix[k], prefix_len[k]);
            wbi_hist_put_value(&b, &v, NULL);
            wbi_buf_putc(&b, ',');
        }
        double ts = BF_T0 + 1.0 + (double)step * 0.01;
        wbi_hist_put_special(&b, step, ts - BF_T0, ts);
        wbi_buf_putc(&b, '}');
        bytes += b.len + 1;
    }
    uint64_t c1 = bu_thread_cpu_ns();
    wbi_buf_release(&b);
    double cpu = (double)(c1 - c0);
    return (s_base_t){cpu / (double)(rows * BF_KEYS), (double)bytes / (cpu / 1e9) / 1e6,
                      (double)bytes / (double)rows};
}

// Cost of computing the values alone (subtracted from nothing; reported).
static double s_value_cost(int64_t rows)
{
    volatile double sink = 0;
    uint64_t c0 = bu_thread_cpu_ns();
    for (int64_t step = 0; step < rows; step++)
        for (int k = 0; k < BF_KEYS; k++)
            sink += bf_value(0, step, k);
    (void)sink;
    return (double)(bu_thread_cpu_ns() - c0) / (double)(rows * BF_KEYS);
}

int main(int argc, char **argv)
{
    uint64_t points = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    if (points < 100000)
        points = 100000;
    bu_machine_line("B4/B7 bench_aggregator");
    bu_pin(1); // the aggregator's CPU (BENCHMARKS.md "pin")
    for (int k = 0; k < BF_KEYS; k++)
        snprintf(bf_names[k], sizeof bf_names[k], "train/m%d", k);
    int64_t base_rows = (int64_t)(points / BF_KEYS);
    uint64_t t_start = bu_now_ns();

    // Baselines (same rows, same values): warm-up, then S_REPS passes.
    double jn[S_REPS], jm[S_REPS], fn[S_REPS], fm[S_REPS], en[S_REPS], em[S_REPS];
    s_base_t j = s_jansson(base_rows / 4), fp = s_fprintf(base_rows / 4),
             e = s_encoder(base_rows / 4);
    for (int i = 0; i < S_REPS; i++) {
        j = s_jansson(base_rows);
        fp = s_fprintf(base_rows);
        e = s_encoder(base_rows);
        jn[i] = j.ns_per_point, jm[i] = j.mbps;
        fn[i] = fp.ns_per_point, fm[i] = fp.mbps;
        en[i] = e.ns_per_point, em[i] = e.mbps;
    }
    double value_ns = s_value_cost(base_rows);
    bu_stats_t jns = bu_stats(jn, S_REPS), jmb = bu_stats(jm, S_REPS);
    bu_stats_t fns = bu_stats(fn, S_REPS), fmb = bu_stats(fm, S_REPS);
    bu_stats_t ens = bu_stats(en, S_REPS), emb = bu_stats(em, S_REPS);
    bu_emit_stats("B7", "jansson build+dumps row", "cpu_ns_per_point", &jns, "ns", "", 0);
    bu_emit_stats("B7", "jansson build+dumps row", "mb_per_cpu_s", &jmb, "MB/s", "", 0);
    bu_emit_stats("B7", "fprintf JSONL row", "cpu_ns_per_point", &fns, "ns", "", 0);
    bu_emit_stats("B7", "fprintf JSONL row", "mb_per_cpu_s", &fmb, "MB/s", "", 0);
    bu_emit_stats("B7", "line encoder alone", "cpu_ns_per_point", &ens, "ns", "", 0);
    bu_emit_stats("B7", "line encoder alone", "mb_per_cpu_s", &emb, "MB/s", "fprintf JSONL",
                  fmb.median);
    bu_emit_stats("B7", "line encoder alone", "mb_per_cpu_s", &emb, "MB/s", "jansson", jmb.median);
    bu_emit_stats("B7", "line encoder alone", "points_per_cpu_s_vs", &ens, "ns", "fprintf JSONL",
                  fns.median);

    fprintf(stderr,
            "\nB7 JSONL encoding of the same 10-double rows, CPU per point, median (p10..p90)\n"
            "%-26s %22s %22s %10s\n",
            "", "ns/point", "MB/s (CPU)", "B/row");
    fprintf(stderr, "%-26s %8.1f (%5.1f..%5.1f) %8.0f (%5.0f..%5.0f) %10.0f\n",
            "jansson build+dumps", jns.median, jns.p10, jns.p90, jmb.median, jmb.p10, jmb.p90,
            j.bytes_per_row);
    fprintf(stderr, "%-26s %8.1f (%5.1f..%5.1f) %8.0f (%5.0f..%5.0f) %10.0f\n", "fprintf %.17g",
            fns.median, fns.p10, fns.p90, fmb.median, fmb.p10, fmb.p90, fp.bytes_per_row);
    fprintf(stderr, "%-26s %8.1f (%5.1f..%5.1f) %8.0f (%5.0f..%5.0f) %10.0f\n",
            "aggregator line encoder", ens.median, ens.p10, ens.p90, emb.median, emb.p10, emb.p90,
            e.bytes_per_row);
    fprintf(stderr, "(computing the values themselves: %.1f ns/point, included in all three)\n",
            value_ns);

    fprintf(stderr,
            "\nB4/B7 aggregator message handler (decode + merge + line + summaries), replay,\n"
            "%llu points a rep, median (p10..p90) of %d reps\n"
            "%5s %8s %24s %18s %22s %7s %7s %7s\n",
            (unsigned long long)points, S_REPS, "ranks", "rows/msg", "CPU ns/point",
            "Mpoints/s wall", "history MB/s (CPU)", "vs fpr", "vs jsn", "summ");
    const int ns_list[] = {1, 4, 16, 64, 256};
    const int batch_list[] = {64, 1};
    for (int bi = 0; bi < 2; bi++) {
        for (int ni = 0; ni < 5; ni++) {
            int n = ns_list[ni];
            int64_t rows_per_rank = base_rows / n;
            bf_feed_t f;
            bf_feed_build(&f, n, rows_per_rank, batch_list[bi]);
            double cpu[S_REPS], pps[S_REPS], mb[S_REPS];
            s_agg_rep_t r = s_agg_rep(&f, n); // warm-up
            bool bad = false;
            uint64_t summaries = 0;
            for (int i = 0; i < S_REPS; i++) {
                r = s_agg_rep(&f, n);
                cpu[i] = r.cpu_ns_per_point;
                pps[i] = r.wall_pps;
                mb[i] = r.mbps;
                summaries += r.summaries;
                bad |= r.lines != f.lines || r.malformed != 0;
            }
            bu_stats_t cs = bu_stats(cpu, S_REPS), ps = bu_stats(pps, S_REPS),
                       ms = bu_stats(mb, S_REPS);
            char variant[64];
            snprintf(variant, sizeof variant, "N=%d ranks x 10 keys, %d rows/msg", n,
                     batch_list[bi]);
            bu_emit_stats("B4", variant, "cpu_ns_per_point", &cs, "ns", "target 100 ns", 100.0);
            bu_emit_stats("B4", variant, "points_per_s_wall", &ps, "points/s", "", 0);
            bu_emit_stats("B7", variant, "history_mb_per_cpu_s", &ms, "MB/s", "fprintf JSONL",
                          fmb.median);
            bu_emit_stats("B7", variant, "history_mb_per_cpu_s", &ms, "MB/s", "jansson",
                          jmb.median);
            bu_emit("B4", variant, "lost_or_malformed", bad ? 1 : 0, "flag", "", 0);
            fprintf(stderr,
                    "%5d %8d %8.1f (%5.1f..%5.1f) %6.2f (%5.2f..%5.2f) %7.0f (%4.0f..%4.0f) "
                    "%6.2fx %6.2fx %7llu%s\n",
                    n, batch_list[bi], cs.median, cs.p10, cs.p90, ps.median / 1e6, ps.p10 / 1e6,
                    ps.p90 / 1e6, ms.median, ms.p10, ms.p90, ms.median / fmb.median,
                    ms.median / jmb.median, (unsigned long long)(summaries / S_REPS),
                    bad ? "  (LOST OR MALFORMED)" : "");
            bf_feed_free(&f);
        }
    }
    fprintf(stderr,
            "aggregator on CPU 1. Targets: <= 100 ns CPU/point flat in N; encoder >= 2.5x fprintf\n"
            "and >= 4x jansson in MB/s. summ = summaries built per rep (200 ms timer per run).\n"
            "Total %.1f s.\n",
            (double)(bu_now_ns() - t_start) / 1e9);
    return 0;
}
