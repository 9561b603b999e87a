//  bench_journal.c - B10: the journal's points/s and fsyncs against raw write() of the same bytes
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_journal [seconds-per-rep] [dir]   (default 1 s, $TMPDIR or /tmp)
//  Records are history lines as the aggregator journals them: a JSON object of _step and
//  10 scalars (~200 bytes = 10 points), 1024 distinct lines encoded once beforehand. Each
//  variant appends them for seconds-per-rep or S_REP_BYTES of lines, whichever comes first,
//  S_REPS times after one warm-up, in a fresh directory on the same file system, and the
//  files are removed after each rep. The clock runs from the first append to the return of
//  close (the last write included).
//  - journal, no_fsync, a flush every S_FLUSH_RECORDS records (2 M points: one second of
//    simulated time at the target rate);
//  - journal with fsync, the same flushes: fsyncs per flush (one, plus two for each segment
//    finished: its own fdatasync and the directory's fsync for the next file);
//  - the same with segments larger than a rep (no segment finishes: exactly one);
//  - baselines in the same program: the same lines memcpy'd into a 256 KiB buffer (the
//    journal's write size) and write() when full, without and with fdatasync at the same
//    record counts.
//  Then the first variant's journal is read back with the reader (points/s).
#include "bench_util.h"
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define S_REPS 5                   // timed repetitions (after one warm-up)
#define S_LINES 1024               // distinct history lines
#define S_KEYS 10                  // points a line
#define S_FLUSH_RECORDS 200000     // records between flushes (2 M points)
#define S_REP_BYTES (512ull << 20) // line bytes a rep writes at most
#define S_BUF_BYTES (256u << 10)   // the raw baseline's buffer (= WBI_JOURNAL_WRITE_BYTES)
#define S_CHECK_EVERY 1024         // records between clock reads

// The pre-encoded history lines.
typedef struct {
    char *data[S_LINES]; // line i (no newline: the journal frames records)
    size_t len[S_LINES]; // its length
    double mean_len;     // average length
} s_lines_t;

// The outcome of one rep.
typedef struct {
    double seconds;   // wall time, first append to close
    uint64_t records; // lines written
    uint64_t bytes;   // bytes that reached the file (headers and framing included)
    uint64_t flushes; // flushes (or baseline sync points) that wrote something
    uint64_t fsyncs;  // fsync/fdatasync calls made after open
    double user_ns;   // user CPU a record
    double sys_ns;    // system CPU a record
    bool ok;          // no error
} s_rep_t;

// User and system CPU of the process so far (ns).
static void s_cpu(uint64_t *user, uint64_t *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u;
    *sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

// Encodes S_LINES lines like {"_step":N,"m0":0.123456789,...,"m9":...}.
static void s_lines_make(s_lines_t *l)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    double total = 0;
    for (int i = 0; i < S_LINES; i++) {
        char buf[512];
        int n = snprintf(buf, sizeof buf, "{\"_step\":%d", 100000 + i);
        for (int k = 0; k < S_KEYS; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double v = (double)(x >> 11) / 9007199254740992.0;
            n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"m%d\":%.9g", k, v);
        }
        n += snprintf(buf + n, sizeof buf - (size_t)n, "}");
        l->data[i] = strdup(buf);
        l->len[i] = (size_t)n;
        total += n;
    }
    l->mean_len = total / S_LINES;
}

// Frees the lines.
static void s_lines_free(s_lines_t *l)
{
    for (int i = 0; i < S_LINES; i++)
        free(l->data[i]);
}

// True when the rep should stop: past its time or its bytes.
static bool s_done(uint64_t t0, double seconds, uint64_t line_bytes)
{
    return line_bytes >= S_REP_BYTES || (double)(bu_now_ns() - t0) >= seconds * 1e9;
}

// One rep of the journal: appends until done, a flush every S_FLUSH_RECORDS, then close.
// segment_bytes 0: the default (64 MiB).
static s_rep_t s_journal_rep(const s_lines_t *l, const char *dir, double seconds, bool fsync,
                             uint64_t segment_bytes)
{
    s_rep_t r = {0};
    wbi_journal_opts_t o = {
        .max_bytes = 1ull << 40, .segment_bytes = segment_bytes, .no_fsync = !fsync};
    wbi_journal_t *j = NULL;
    char err[256];
    if (wbi_journal_open(&j, dir, &o, err, sizeof err) != WANDB_OK) {
        fprintf(stderr, "bench_journal: %s\n", err);
        return r;
    }
    wbi_journal_stats_t st0;
    wbi_journal_get_stats(j, &st0);
    uint64_t line_bytes = 0;
    bool ok = true;
    uint64_t u0, s0;
    s_cpu(&u0, &s0);
    uint64_t t0 = bu_now_ns();
    uint64_t i = 0;
    while (ok) {
        if (i % S_CHECK_EVERY == 0 && s_done(t0, seconds, line_bytes))
            break;
        size_t k = (size_t)(i % S_LINES);
        ok = wbi_journal_append(j, 1, 7, l->data[k], l->len[k]) == WANDB_OK;
        line_bytes += l->len[k];
        i++;
        if (ok && i % S_FLUSH_RECORDS == 0)
            ok = wbi_journal_flush(j) == WANDB_OK;
    }
    ok = ok && wbi_journal_flush(j) == WANDB_OK;
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    if (!ok)
        fprintf(stderr, "bench_journal: %s\n", wbi_journal_errmsg(j));
    wbi_journal_close(&j);
    r.seconds = (double)(bu_now_ns() - t0) / 1e9;
    uint64_t u1, s1;
    s_cpu(&u1, &s1);
    r.records = st.records;
    r.bytes = st.bytes - st0.bytes;
    r.flushes = st.flushes;
    r.fsyncs = st.fsyncs - st0.fsyncs;
    r.ok = ok && st.records == i;
    r.user_ns = i ? (double)(u1 - u0) / (double)i : 0;
    r.sys_ns = i ? (double)(s1 - s0) / (double)i : 0;
    return r;
}

// write() until done. Returns false on an error.
static bool s_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

// One rep of the baseline: the same lines through a 256 KiB buffer and write(), with an
// fdatasync at each flush point when fsync is set.
static s_rep_t s_raw_rep(const s_lines_t *l, const char *dir, double seconds, bool fsync)
{
    s_rep_t r = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/raw.jsonl", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *buf = malloc(S_BUF_BYTES);
    if (fd < 0 || !buf) {
        fprintf(stderr, "bench_journal: cannot create '%s': %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(buf);
        return r;
    }
    size_t used = 0;
    bool ok = true;
    uint64_t line_bytes = 0;
    uint64_t u0, s0;
    s_cpu(&u0, &s0);
    uint64_t t0 = bu_now_ns();
    uint64_t i = 0;
    while (ok) {
        if (i % S_CHECK_EVERY == 0 && s_done(t0, seconds, line_bytes))
            break;
        size_t k = (size_t)(i % S_LINES);
        if (used + l->len[k] > S_BUF_BYTES) {
            ok = s_write_all(fd, buf, used);
            r.bytes += used;
            used = 0;
        }
        memcpy(buf + used, l->data[k], l->len[k]);
        used += l->len[k];
        line_bytes += l->len[k];
        i++;
        if (i % S_FLUSH_RECORDS == 0) {
            ok = ok && s_write_all(fd, buf, used);
            r.bytes += used;
            used = 0;
            r.flushes++;
            if (fsync) {
                ok = ok && fdatasync(fd) == 0;
                r.fsyncs++;
            }
        }
    }
    ok = ok && s_write_all(fd, buf, used);
    r.bytes += used;
    if (fsync && used > 0) {
        ok = ok && fdatasync(fd) == 0;
        r.fsyncs++;
    }
    r.flushes += used > 0;
    close(fd);
    r.seconds = (double)(bu_now_ns() - t0) / 1e9;
    uint64_t u1, s1;
    s_cpu(&u1, &s1);
    r.records = i;
    r.ok = ok;
    r.user_ns = i ? (double)(u1 - u0) / (double)i : 0;
    r.sys_ns = i ? (double)(s1 - s0) / (double)i : 0;
    free(buf);
    return r;
}

// Reads the journal in dir back; returns records/s (0 on a mismatch or damage).
static double s_read_rate(const char *dir, uint64_t want, uint64_t *got)
{
    wbi_journal_reader_t *r = NULL;
    char err[256];
    if (wbi_journal_reader_open(&r, dir, err, sizeof err) != WANDB_OK) {
        fprintf(stderr, "bench_journal: %s\n", err);
        return 0;
    }
    uint64_t t0 = bu_now_ns();
    wbi_jrec_t rec;
    uint64_t n = 0;
    uint64_t bytes = 0;
    while (n < want + 1 && wbi_journal_reader_next(r, &rec) == 1) {
        bytes += rec.len;
        n++;
    }
    double s = (double)(bu_now_ns() - t0) / 1e9;
    size_t damage = wbi_journal_reader_damage_count(r);
    wbi_journal_reader_close(&r);
    *got = n;
    return n == want && damage == 0 && bytes > 0 ? (double)n / s : 0;
}

// A fresh directory under base for one rep.
static void s_rep_dir(char *dir, size_t size, const char *base)
{
    snprintf(dir, size, "%s/bench_journal.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_journal: cannot create a directory in '%s': %s\n", base,
                strerror(errno));
        exit(1);
    }
}

// nftw callback: removes one entry.
static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// Removes a rep directory made by s_rep_dir.
static void s_rmtree(const char *dir)
{
    nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// The variants in the order they run.
enum { S_J_NOSYNC, S_RAW_NOSYNC, S_J_SYNC, S_RAW_SYNC, S_J_SYNC_BIG, S_NVAR };

// Their names in the output.
static const char *const s_names[S_NVAR] = {"journal no_fsync", "raw write()",
                                            "journal fdatasync per flush", "raw write()+fdatasync",
                                            "journal fdatasync, 1 GiB segments"};

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    if (!(seconds > 0.05 && seconds <= 60))
        seconds = 1.0;
    const char *tmp = getenv("TMPDIR");
    const char *base = argc > 2 ? argv[2] : (tmp && *tmp ? tmp : "/tmp");
    bu_machine_line("B10 bench_journal");
    s_lines_t l;
    s_lines_make(&l);
    fprintf(stderr,
            "B10: %d distinct lines of %.0f bytes (%d points), flush every %d records, "
            "%.2f s or %llu MiB a rep, %d reps, in %s\n",
            S_LINES, l.mean_len, S_KEYS, S_FLUSH_RECORDS, seconds,
            (unsigned long long)(S_REP_BYTES >> 20), S_REPS, base);

    double pps[S_NVAR][S_REPS];
    double mbps[S_NVAR][S_REPS];
    double fpf[S_NVAR][S_REPS];
    double user[S_NVAR][S_REPS];
    double sys[S_NVAR][S_REPS];
    double read_pps[S_REPS];
    bool ok = true;
    for (int rep = -1; rep < S_REPS; rep++) {
        // The variants alternate inside each rep, so drift hits them alike.
        for (int v = 0; v < S_NVAR; v++) {
            char dir[600];
            s_rep_dir(dir, sizeof dir, base);
            bool fsync = v != S_J_NOSYNC && v != S_RAW_NOSYNC;
            bool journal = v != S_RAW_NOSYNC && v != S_RAW_SYNC;
            uint64_t seg = v == S_J_SYNC_BIG ? 2 * S_REP_BYTES : 0;
            s_rep_t r = journal ? s_journal_rep(&l, dir, seconds, fsync, seg)
                                : s_raw_rep(&l, dir, seconds, fsync);
            if (!r.ok || r.seconds <= 0) {
                fprintf(stderr, "bench_journal: %s failed\n", s_names[v]);
                ok = false;
            }
            if (rep >= 0) {
                pps[v][rep] = (double)r.records * S_KEYS / r.seconds;
                mbps[v][rep] = (double)r.bytes / r.seconds / 1e6;
                fpf[v][rep] = r.flushes ? (double)r.fsyncs / (double)r.flushes : 0;
                user[v][rep] = r.user_ns;
                sys[v][rep] = r.sys_ns;
                if (v == S_J_NOSYNC) {
                    uint64_t got = 0;
                    read_pps[rep] = s_read_rate(dir, r.records, &got) * S_KEYS;
                    if (read_pps[rep] <= 0) {
                        fprintf(stderr, "bench_journal: read back %llu of %llu records\n",
                                (unsigned long long)got, (unsigned long long)r.records);
                        ok = false;
                    }
                }
            }
            s_rmtree(dir);
        }
    }

    bu_stats_t sp[S_NVAR], sm[S_NVAR], sf[S_NVAR], su[S_NVAR], ss[S_NVAR];
    for (int v = 0; v < S_NVAR; v++) {
        su[v] = bu_stats(user[v], S_REPS);
        ss[v] = bu_stats(sys[v], S_REPS);
        sp[v] = bu_stats(pps[v], S_REPS);
        sm[v] = bu_stats(mbps[v], S_REPS);
        sf[v] = bu_stats(fpf[v], S_REPS);
    }
    bu_stats_t rp = bu_stats(read_pps, S_REPS);
    for (int v = 0; v < S_NVAR; v++) {
        bool journal = v != S_RAW_NOSYNC && v != S_RAW_SYNC;
        int raw = v == S_J_NOSYNC ? S_RAW_NOSYNC : S_RAW_SYNC;
        bu_emit_stats("B10", s_names[v], "points_per_s", &sp[v], "points/s",
                      journal ? s_names[raw] : "target 2M", journal ? sp[raw].median : 2e6);
        bu_emit_stats("B10", s_names[v], "mb_per_s", &sm[v], "MB/s", journal ? s_names[raw] : "",
                      journal ? sm[raw].median : 0);
        if (journal)
            bu_emit_stats("B10", s_names[v], "points_per_s_vs_target", &sp[v], "points/s",
                          "target 2M", 2e6);
        if (v != S_J_NOSYNC && v != S_RAW_NOSYNC)
            bu_emit_stats("B10", s_names[v], "fsyncs_per_flush", &sf[v], "fsyncs", "target 1", 1.0);
    }
    bu_emit_stats("B10", "journal reader", "points_per_s", &rp, "points/s", "journal no_fsync",
                  sp[S_J_NOSYNC].median);

    fprintf(stderr,
            "\nB10 journal vs raw write() of the same lines, median (p10..p90) of %d reps\n"
            "%-30s %26s %22s %14s %8s %18s\n",
            S_REPS, "", "points/s", "MB/s to disk", "fsyncs/flush", "vs raw", "CPU ns/rec usr+sys");
    for (int v = 0; v < S_NVAR; v++) {
        int raw = v == S_J_NOSYNC ? S_RAW_NOSYNC : v == S_RAW_NOSYNC ? v : S_RAW_SYNC;
        fprintf(stderr,
                "%-30s %10.3gM (%5.3g..%5.3g) %8.0f (%5.0f..%5.0f) %14.2f %7.0f%% %8.0f+%.0f\n",
                s_names[v], sp[v].median / 1e6, sp[v].p10 / 1e6, sp[v].p90 / 1e6, sm[v].median,
                sm[v].p10, sm[v].p90, sf[v].median, 100.0 * sp[v].median / sp[raw].median,
                su[v].median, ss[v].median);
    }
    fprintf(stderr, "%-30s %10.3gM (%5.3g..%5.3g)\n", "journal reader", rp.median / 1e6,
            rp.p10 / 1e6, rp.p90 / 1e6);
    s_lines_free(&l);
    return ok ? 0 : 1;
}
