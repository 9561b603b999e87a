//  test_journal.c - the on-disk journal: round trip, cap, write errors, damage, fsyncs, threads
//  SPDX-License-Identifier: MIT
#include "common/alloc.h"
#include "common/crc32c.h"
#include "journal/journal.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PAYLOAD_MAX 400 // longest test payload

// A fresh temporary directory (removed by s_rmtree).
static void s_tmpdir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/wbjtest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
}

// nftw callback: removes one entry.
static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// Removes a directory tree.
static void s_rmtree(const char *dir)
{
    nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// The payload of test record i: a length from 0 to S_PAYLOAD_MAX - 1 and bytes that depend
// on i and the position, so a record in the wrong place or torn shows.
static size_t s_payload(uint32_t i, uint8_t *buf)
{
    size_t len = (size_t)((i * 37u) % S_PAYLOAD_MAX);
    for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)(i * 7u + j * 13u + (j >> 8));
    return len;
}

// Type and run of test record i.
static uint8_t s_type(uint32_t i)
{
    return (uint8_t)(1 + i % 5);
}

// Run of test record i.
static uint32_t s_run(uint32_t i)
{
    return i % 3 * 1000u;
}

// Appends test record i (through append2 for odd i: a 4-byte first part and the rest).
static wandb_err s_append(wbi_journal_t *j, uint32_t i)
{
    uint8_t buf[S_PAYLOAD_MAX];
    size_t len = s_payload(i, buf);
    if (i % 2 && len >= 4)
        return wbi_journal_append2(j, s_type(i), s_run(i), buf, 4, buf + 4, len - 4);
    return wbi_journal_append(j, s_type(i), s_run(i), buf, len);
}

// Checks that rec is test record i.
static void s_check_rec(const wbi_jrec_t *rec, uint32_t i)
{
    uint8_t buf[S_PAYLOAD_MAX];
    size_t len = s_payload(i, buf);
    CHECK_EQ(rec->type, s_type(i));
    CHECK_EQ(rec->run, s_run(i));
    CHECK_EQ(rec->len, len);
    CHECK(len == 0 || memcmp(rec->payload, buf, len) == 0);
}

// Opens a journal that must open.
static wbi_journal_t *s_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
                             bool no_fsync)
{
    wbi_journal_opts_t o = {
        .max_bytes = max_bytes, .segment_bytes = segment_bytes, .no_fsync = no_fsync};
    wbi_journal_t *j = NULL;
    char err[256];
    wandb_err rc = wbi_journal_open(&j, dir, &o, err, sizeof err);
    if (rc != WANDB_OK)
        WBT_FAIL("open '%s': %s", dir, err);
    CHECK(j != NULL);
    return j;
}

// Opens a reader that must open.
static wbi_journal_reader_t *s_reader(const char *dir)
{
    wbi_journal_reader_t *r = NULL;
    char err[256];
    wandb_err rc = wbi_journal_reader_open(&r, dir, err, sizeof err);
    if (rc != WANDB_OK)
        WBT_FAIL("reader '%s': %s", dir, err);
    return r;
}

// Reads every record, checks record k is test record first + k, returns how many there were.
static uint32_t s_read_all(const char *dir, uint32_t first, size_t want_damage)
{
    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        s_check_rec(&rec, first + n);
        n++;
    }
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 0);
    if (wbi_journal_reader_damage_count(r) != want_damage)
        WBT_FAIL("damage: %zu messages, want %zu; first: %s", wbi_journal_reader_damage_count(r),
                 want_damage, wbi_journal_reader_damage(r, 0));
    wbi_journal_reader_close(&r);
    CHECK(r == NULL);
    return n;
}

// The path of segment seq in dir.
static void s_seg_path(char *path, size_t size, const char *dir, unsigned seq)
{
    snprintf(path, size, "%s/%06u.wjl", dir, seq);
}

// Size of a file (-1 when absent).
static long long s_file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

// The offsets of the records of one segment, read back (at most cap).
static size_t s_offsets(const char *dir, const char *file, uint64_t *off, size_t cap)
{
    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    size_t n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1)
        if (strcmp(rec.file, file) == 0 && n < cap)
            off[n++] = rec.offset;
    wbi_journal_reader_close(&r);
    return n;
}

// Normal use: many records of several types and runs across segments, read back in order;
// a second open never touches the old segments and starts a new one after them.
static void test_round_trip(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 8192, true);
    CHECK_STREQ(wbi_journal_dir(j), dir);
    const uint32_t n1 = 3000;
    for (uint32_t i = 0; i < n1; i++) {
        CHECK_OK(s_append(j, i));
        if (i % 500 == 499)
            CHECK_OK(wbi_journal_flush(j));
    }
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    CHECK_EQ(st.records, n1);
    CHECK(st.segments >= 30); // ~600 KB of records in 8 KiB segments
    CHECK_STREQ(wbi_journal_errmsg(j), "");
    wbi_journal_close(&j);
    CHECK(j == NULL);
    wbi_journal_close(&j); // NULL-safe
    wbi_journal_stats_t none;
    wbi_journal_get_stats(NULL, &none);
    CHECK_EQ(none.records, 0);

    // Every segment respects segment_bytes (no single record is larger here).
    uint64_t total = 0;
    for (unsigned s = 1; s <= st.segments; s++) {
        char path[300];
        s_seg_path(path, sizeof path, dir, s);
        long long size = s_file_size(path);
        CHECK(size > 12 && size <= 8192);
        total += (uint64_t)size;
    }
    CHECK(total > 0);
    wbi_journal_stats_t st1 = st;

    char last[300];
    s_seg_path(last, sizeof last, dir, (unsigned)st1.segments);
    long long last_size = s_file_size(last);
    j = s_open(dir, 0, 8192, true);
    for (uint32_t i = n1; i < n1 + 100; i++)
        CHECK_OK(s_append(j, i));
    wbi_journal_close(&j);
    CHECK_EQ(s_file_size(last), last_size);
    char next[300];
    s_seg_path(next, sizeof next, dir, (unsigned)st1.segments + 1);
    CHECK(s_file_size(next) > 12);

    // In order, across all segments; offsets and file names are right.
    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    char prev_file[300] = "";
    uint64_t expect_off = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        s_check_rec(&rec, n);
        if (strcmp(prev_file, rec.file) != 0) {
            CHECK(strcmp(prev_file, rec.file) < 0);
            snprintf(prev_file, sizeof prev_file, "%s", rec.file);
            expect_off = 12;
        }
        CHECK_EQ(rec.offset, expect_off);
        expect_off += 13 + rec.len;
        n++;
    }
    CHECK_EQ(n, n1 + 100);
    CHECK(strcmp(prev_file, next) >= 0); // the second open wrote 81 and on
    CHECK_EQ(wbi_journal_reader_damage_count(r), 0);
    CHECK(wbi_journal_reader_damage(r, 0) == NULL);
    wbi_journal_reader_close(&r);
    CHECK(wbi_journal_is_dir(dir));
    s_rmtree(dir);
}

// max_bytes: appends past it get WANDB_EFULL and are counted; what was accepted stays
// readable; existing segments count against the cap of a later open.
static void test_max_bytes(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    const uint64_t cap = 20000;
    wbi_journal_t *j = s_open(dir, cap, 4096, true);
    uint8_t payload[100] = {0};
    uint32_t ok = 0;
    uint32_t full = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        wandb_err rc = wbi_journal_append(j, 1, i, payload, sizeof payload);
        if (rc == WANDB_OK) {
            CHECK_EQ(full, 0); // never accepted again once full (same size)
            ok++;
        } else {
            CHECK_ERR(rc, WANDB_EFULL);
            full++;
        }
    }
    CHECK(ok > 100 && full > 0);
    CHECK_OK(wbi_journal_flush(j)); // segment files are created as the bytes are written
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    CHECK_EQ(st.records, ok);
    CHECK_EQ(st.dropped_full, full);
    CHECK_EQ(st.segments, 5);
    CHECK_STREQ(wbi_journal_errmsg(j), ""); // full is not an error
    wbi_journal_close(&j);

    uint64_t on_disk = 0;
    for (unsigned s = 1; s <= st.segments; s++) {
        char path[300];
        s_seg_path(path, sizeof path, dir, s);
        on_disk += (uint64_t)s_file_size(path);
    }
    CHECK(on_disk <= cap);
    CHECK(on_disk > cap - 2 * (13 + sizeof payload + 12));

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        CHECK_EQ(rec.run, n);
        CHECK_EQ(rec.len, sizeof payload);
        n++;
    }
    CHECK_EQ(n, ok);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 0);
    wbi_journal_reader_close(&r);

    // The segments of the first open still count.
    j = s_open(dir, cap, 4096, true);
    CHECK_ERR(wbi_journal_append(j, 1, 0, payload, sizeof payload), WANDB_EFULL);
    wbi_journal_get_stats(j, &st);
    CHECK_EQ(st.dropped_full, 1);
    CHECK_EQ(st.records, 0);
    wbi_journal_close(&j);
    s_rmtree(dir);
}

// The child of test_write_error: appends and flushes under RLIMIT_FSIZE until the journal
// reports the error; sends the number of records flushed with WANDB_OK on fd.
static void s_write_error_child(const char *dir, int fd)
{
    signal(SIGXFSZ, SIG_IGN); // the test's choice: the library never touches signals
    struct rlimit rl = {.rlim_cur = 64 << 10, .rlim_max = 64 << 10};
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    wbi_journal_t *j = s_open(dir, 0, 0, true);
    uint32_t durable = 0;
    wandb_err rc = WANDB_OK;
    uint32_t i = 0;
    for (; i < 100000 && rc == WANDB_OK; i++) {
        rc = s_append(j, i);
        if (rc == WANDB_OK && i % 50 == 49) {
            rc = wbi_journal_flush(j);
            if (rc == WANDB_OK)
                durable = i + 1;
        }
    }
    CHECK_ERR(rc, WANDB_EIO);
    const char *msg = wbi_journal_errmsg(j);
    char want[300];
    snprintf(want, sizeof want, "cannot write '%s/000001.wjl': %s", dir, strerror(EFBIG));
    CHECK_STREQ(msg, want);
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    CHECK(st.dropped_io >= 1);
    CHECK(durable > 0);
    // Sticky: later calls fail and are counted.
    CHECK_ERR(s_append(j, i), WANDB_EIO);
    CHECK_ERR(wbi_journal_flush(j), WANDB_EIO);
    wbi_journal_stats_t st2;
    wbi_journal_get_stats(j, &st2);
    CHECK_EQ(st2.dropped_io, st.dropped_io + 1);
    CHECK_EQ(st2.records, i);
    CHECK_STREQ(wbi_journal_errmsg(j), want);
    wbi_journal_close(&j);
    CHECK(write(fd, &durable, sizeof durable) == (ssize_t)sizeof durable);
    exit(0);
}

// A write error (file size limit): WANDB_EIO with a clear message, counted, no crash; the
// records flushed before it are readable.
static void test_write_error(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        s_write_error_child(dir, fds[1]);
    }
    close(fds[1]);
    uint32_t durable = 0;
    ssize_t got = read(fds[0], &durable, sizeof durable);
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(got, sizeof durable);

    char path[300];
    s_seg_path(path, sizeof path, dir, 1);
    CHECK_EQ(s_file_size(path), 64 << 10); // written up to the limit
    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        s_check_rec(&rec, n);
        n++;
    }
    CHECK(n >= durable);
    // The last write stopped inside a record: one truncation, named.
    CHECK_EQ(wbi_journal_reader_damage_count(r), 1);
    char want[400];
    snprintf(want, sizeof want, "'%s': truncated record at offset", path);
    CHECK(strncmp(wbi_journal_reader_damage(r, 0), want, strlen(want)) == 0);
    wbi_journal_reader_close(&r);
    s_rmtree(dir);
}

// Writes three segments of 50 records each (records 0..149), one open each.
static void s_three_segments(const char *dir)
{
    for (uint32_t s = 0; s < 3; s++) {
        wbi_journal_t *j = s_open(dir, 0, 0, true);
        for (uint32_t i = s * 50; i < s * 50 + 50; i++)
            CHECK_OK(s_append(j, i));
        wbi_journal_close(&j);
    }
}

// Overwrites one byte of a file.
static void s_poke(const char *path, uint64_t off, uint8_t v)
{
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, &v, 1, (off_t)off) == 1);
    close(fd);
}

// Reads one byte of a file.
static uint8_t s_peek(const char *path, uint64_t off)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    uint8_t v = 0;
    CHECK(pread(fd, &v, 1, (off_t)off) == 1);
    close(fd);
    return v;
}

// A last segment cut inside a record: the records before the cut come back, and one
// message names the file and the record's offset.
static void test_damage_truncated(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 0, true);
    for (uint32_t i = 0; i < 100; i++)
        CHECK_OK(s_append(j, i));
    wbi_journal_close(&j);
    char path[300];
    s_seg_path(path, sizeof path, dir, 1);
    uint64_t off[100];
    CHECK_EQ(s_offsets(dir, path, off, 100), 100);
    long long size = s_file_size(path);
    CHECK(truncate(path, (off_t)(size - 7)) == 0);
    CHECK_EQ(s_read_all(dir, 0, 1), 99);

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    while (wbi_journal_reader_next(r, &rec) == 1)
        ;
    char want[400];
    snprintf(want, sizeof want, "'%s': truncated record at offset %llu", path,
             (unsigned long long)off[99]);
    CHECK_STREQ(wbi_journal_reader_damage(r, 0), want);
    wbi_journal_reader_close(&r);

    // Cut inside the 13-byte header of a record, and inside the segment header.
    CHECK(truncate(path, (off_t)(off[50] + 5)) == 0);
    CHECK_EQ(s_read_all(dir, 0, 1), 50);
    CHECK(truncate(path, 7) == 0);
    CHECK_EQ(s_read_all(dir, 0, 1), 0);
    CHECK(truncate(path, 0) == 0); // created, never written: empty, not damage
    CHECK_EQ(s_read_all(dir, 0, 0), 0);
    s_rmtree(dir);
}

// One flipped byte inside a record of segment 1 of 3: the records before it, then all of
// segments 2 and 3; the message names segment 1 and the record's offset.
static void test_damage_flip(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    s_three_segments(dir);
    char seg1[300];
    s_seg_path(seg1, sizeof seg1, dir, 1);
    uint64_t off[50];
    CHECK_EQ(s_offsets(dir, seg1, off, 50), 50);
    uint64_t at = off[20] + 13 + 2; // a payload byte of record 20 (37 * 20 % 400 = 340 long)
    s_poke(seg1, at, (uint8_t)(s_peek(seg1, at) ^ 0x10));

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    uint32_t want_i = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        if (n == 20)
            want_i = 50; // the rest of segment 1 is skipped
        s_check_rec(&rec, want_i);
        n++;
        want_i++;
    }
    CHECK_EQ(n, 20 + 100);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 1);
    char want[400];
    snprintf(want, sizeof want, "'%s': checksum mismatch at offset %llu", seg1,
             (unsigned long long)off[20]);
    CHECK_STREQ(wbi_journal_reader_damage(r, 0), want);
    wbi_journal_reader_close(&r);

    // A length field made huge in segment 2: bounded, named, segment 3 still read.
    char seg2[300];
    s_seg_path(seg2, sizeof seg2, dir, 2);
    s_poke(seg2, 12 + 3, 0xff);
    r = s_reader(dir);
    n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1)
        n++;
    CHECK_EQ(n, 20 + 50);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 2);
    snprintf(want, sizeof want, "'%s': bad record length", seg2);
    CHECK(strncmp(wbi_journal_reader_damage(r, 1), want, strlen(want)) == 0);
    wbi_journal_reader_close(&r);
    s_rmtree(dir);
}

// A file with a segment's name but not a segment (wrong magic), a wrong version, and files
// that are not segments at all.
static void test_damage_garbage(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    s_three_segments(dir);
    char path[300];
    s_seg_path(path, sizeof path, dir, 2);
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    const char junk[] = "this is not a journal segment at all, just some text\n";
    CHECK(write(fd, junk, sizeof junk - 1) == (ssize_t)(sizeof junk - 1));
    close(fd);
    char other[300];
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    fd = open(other, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    snprintf(other, sizeof other, "%s/1.wjl", dir); // not a name "%06u.wjl" prints
    fd = open(other, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t n = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        s_check_rec(&rec, n < 50 ? n : n + 50);
        n++;
    }
    CHECK_EQ(n, 100);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 1);
    char want[400];
    snprintf(want, sizeof want, "'%s': bad magic at offset 0", path);
    CHECK_STREQ(wbi_journal_reader_damage(r, 0), want);
    wbi_journal_reader_close(&r);

    s_seg_path(path, sizeof path, dir, 3);
    s_poke(path, 8, 2);
    CHECK_EQ(s_read_all(dir, 0, 2), 50);
    s_rmtree(dir);
}

// Random damage (flipped bytes, cuts, garbage lengths) never crashes the reader, which
// returns an in-order prefix of the records and at most one message a segment.
static void test_damage_random(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 0, true);
    for (uint32_t i = 0; i < 200; i++)
        CHECK_OK(s_append(j, i));
    wbi_journal_close(&j);
    char path[300];
    s_seg_path(path, sizeof path, dir, 1);
    long long size = s_file_size(path);
    uint8_t *orig = malloc((size_t)size);
    uint8_t *copy = malloc((size_t)size);
    CHECK(orig && copy);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, orig, (size_t)size) == size);
    close(fd);
    uint64_t ends[200]; // where each record ends
    CHECK_EQ(s_offsets(dir, path, ends, 200), 200);
    for (int i = 0; i < 199; i++)
        ends[i] = ends[i + 1];
    ends[199] = (uint64_t)size;
    uint64_t x = 88172645463325252ull;
    for (int iter = 0; iter < 300; iter++) {
        memcpy(copy, orig, (size_t)size);
        size_t len = (size_t)size;
        for (int k = 0; k < 1 + iter % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % (uint64_t)len);
            if (k == 0 && iter % 5 == 0)
                len = at; // a cut
            else if (len > 0)
                copy[at] ^= (uint8_t)(1 + (x >> 32) % 255);
        }
        fd = open(path, O_WRONLY | O_TRUNC);
        CHECK(fd >= 0 && write(fd, copy, len) == (ssize_t)len);
        close(fd);
        wbi_journal_reader_t *r = s_reader(dir);
        wbi_jrec_t rec;
        uint32_t n = 0;
        while (wbi_journal_reader_next(r, &rec) == 1 && n < 1000) {
            CHECK(rec.offset + 13 + rec.len <= len);
            s_check_rec(&rec, n);
            n++;
        }
        CHECK(wbi_journal_reader_damage_count(r) <= 1);
        // Without a message, the file was cut exactly after the last record returned.
        if (wbi_journal_reader_damage_count(r) == 0)
            CHECK(len == 0 || (n > 0 && len == ends[n - 1]) || (n == 0 && len == 12));
        wbi_journal_reader_close(&r);
    }
    free(orig);
    free(copy);
    s_rmtree(dir);
}

// fsyncs: N appends and one flush make exactly one fdatasync; a flush with nothing new
// makes none.
static void test_fsync_count(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 0, false);
    wbi_journal_stats_t s0;
    wbi_journal_get_stats(j, &s0);
    CHECK_EQ(s0.fsyncs, 1); // the directory, for the new segment's entry
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_stats_t s1;
    wbi_journal_get_stats(j, &s1);
    CHECK_EQ(s1.fsyncs, s0.fsyncs);
    CHECK_EQ(s1.flushes, 0);
    for (uint32_t i = 0; i < 5000; i++) // ~1 MB: written in several 256 KiB batches
        CHECK_OK(s_append(j, i));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_stats_t s2;
    wbi_journal_get_stats(j, &s2);
    CHECK_EQ(s2.fsyncs, s1.fsyncs + 1);
    CHECK_EQ(s2.flushes, 1);
    CHECK_OK(wbi_journal_flush(j));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_stats_t s3;
    wbi_journal_get_stats(j, &s3);
    CHECK_EQ(s3.fsyncs, s2.fsyncs);
    CHECK_EQ(s3.flushes, 1);
    CHECK_OK(s_append(j, 5000));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_get_stats(j, &s3);
    CHECK_EQ(s3.fsyncs, s2.fsyncs + 1);
    CHECK_EQ(s3.flushes, 2);
    wbi_journal_close(&j);
    CHECK_EQ(s_read_all(dir, 0, 0), 5001);

    // no_fsync: flushes still write, never sync.
    j = s_open(dir, 0, 0, true);
    for (uint32_t i = 0; i < 100; i++)
        CHECK_OK(s_append(j, 5001 + i));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_get_stats(j, &s3);
    CHECK_EQ(s3.fsyncs, 0);
    CHECK_EQ(s3.flushes, 1);
    CHECK(s3.bytes > 100 * 13);
    wbi_journal_close(&j);
    CHECK_EQ(s_read_all(dir, 0, 0), 5101);

    // A flush that finishes segments syncs each of them and the directory once.
    char dir2[256];
    s_tmpdir(dir2, sizeof dir2);
    j = s_open(dir2, 0, 4096, false);
    wbi_journal_get_stats(j, &s0);
    for (uint32_t i = 0; i < 40; i++) // ~8 KB: the first segment and two more
        CHECK_OK(s_append(j, i));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_get_stats(j, &s1);
    CHECK(s1.segments >= 2);
    // Each finished segment, the directory, then the open segment.
    CHECK_EQ(s1.fsyncs - s0.fsyncs, (s1.segments - 1) + 1 + 1);
    wbi_journal_close(&j);
    CHECK_EQ(s_read_all(dir2, 0, 0), 40);

    // Segments finished by the 256 KiB writes of appends (more than are kept open) are
    // synced once each too.
    char dir3[256];
    s_tmpdir(dir3, sizeof dir3);
    j = s_open(dir3, 0, 32 << 10, false);
    wbi_journal_get_stats(j, &s0);
    for (uint32_t i = 0; i < 10000; i++) // ~2 MB: 60 segments
        CHECK_OK(s_append(j, i));
    CHECK_OK(wbi_journal_flush(j));
    wbi_journal_get_stats(j, &s1);
    CHECK(s1.segments > 50);
    CHECK_EQ(s1.fsyncs - s0.fsyncs, (s1.segments - 1) + 1 + 1);
    CHECK_EQ(s1.flushes, 1);
    wbi_journal_close(&j);
    CHECK_EQ(s_read_all(dir3, 0, 0), 10000);
    s_rmtree(dir);
    s_rmtree(dir2);
    s_rmtree(dir3);
}

#define S_THREAD_RECS 20000 // records each appending thread writes

// An appending thread's state.
typedef struct {
    wbi_journal_t *j; // shared journal
    uint32_t id;      // 0 or 1, in the record's run
} s_appender_t;

// Appends S_THREAD_RECS records: run = thread id, payload = sequence number + filler.
static void *s_appender(void *arg)
{
    s_appender_t *a = arg;
    uint8_t buf[S_PAYLOAD_MAX];
    for (uint32_t i = 0; i < S_THREAD_RECS; i++) {
        size_t len = s_payload(i, buf);
        uint8_t seq[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
        CHECK_OK(wbi_journal_append2(a->j, (uint8_t)(10 + a->id), a->id, seq, 4, buf, len));
    }
    return NULL;
}

// The flushing thread's state.
typedef struct {
    wbi_journal_t *j; // shared journal
    int stop;         // set (atomically) when the appenders are done
    uint64_t flushes; // flush calls made
} s_flusher_t;

// Flushes in a loop until told to stop, reading the counters and the error text too.
static void *s_flusher(void *arg)
{
    s_flusher_t *f = arg;
    for (uint64_t i = 0; i < 10000000 && !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); i++) {
        CHECK_OK(wbi_journal_flush(f->j));
        wbi_journal_stats_t st;
        wbi_journal_get_stats(f->j, &st);
        CHECK_STREQ(wbi_journal_errmsg(f->j), "");
        f->flushes++;
    }
    return NULL;
}

// Two threads append while a third flushes in a loop: everything comes back, each
// thread's records in its order, none torn.
static void test_threads(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 256 << 10, true);
    s_appender_t a[2] = {{j, 0}, {j, 1}};
    s_flusher_t f = {j, 0, 0};
    pthread_t t[3];
    CHECK(pthread_create(&t[2], NULL, s_flusher, &f) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, s_appender, &a[i]) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
    CHECK(pthread_join(t[2], NULL) == 0);
    CHECK(f.flushes > 0);
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    CHECK_EQ(st.records, 2 * S_THREAD_RECS);
    CHECK(st.segments > 1);
    wbi_journal_close(&j);

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    uint32_t next[2] = {0, 0};
    uint8_t buf[S_PAYLOAD_MAX];
    while (wbi_journal_reader_next(r, &rec) == 1) {
        CHECK(rec.run < 2);
        CHECK_EQ(rec.type, 10 + rec.run);
        CHECK(rec.len >= 4);
        uint32_t seq = (uint32_t)rec.payload[0] | (uint32_t)rec.payload[1] << 8 |
                       (uint32_t)rec.payload[2] << 16 | (uint32_t)rec.payload[3] << 24;
        CHECK_EQ(seq, next[rec.run]);
        size_t len = s_payload(seq, buf);
        CHECK_EQ(rec.len, 4 + len);
        CHECK(memcmp(rec.payload + 4, buf, len) == 0);
        next[rec.run]++;
    }
    CHECK_EQ(next[0], S_THREAD_RECS);
    CHECK_EQ(next[1], S_THREAD_RECS);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 0);
    wbi_journal_reader_close(&r);
    s_rmtree(dir);
}

// A record larger than the write threshold, the 16 MiB buffer bound and the reader's window
// goes through whole, in a segment of its own, between small ones.
static void test_large_record(void)
{
    char dir[256];
    s_tmpdir(dir, sizeof dir);
    wbi_journal_t *j = s_open(dir, 0, 1 << 20, true);
    size_t big = 40u << 20;
    uint8_t *body = malloc(big);
    CHECK(body != NULL);
    for (size_t i = 0; i < big; i++)
        body[i] = (uint8_t)(i * 131u >> 7);
    CHECK_OK(s_append(j, 0));
    CHECK_OK(wbi_journal_append2(j, 9, 42, "head", 4, body, big));
    CHECK_OK(s_append(j, 1));
    CHECK_OK(wbi_journal_flush(j));
    CHECK_OK(s_append(j, 2));
    wbi_journal_close(&j);

    wbi_journal_reader_t *r = s_reader(dir);
    wbi_jrec_t rec;
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 1);
    s_check_rec(&rec, 0);
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 1);
    CHECK_EQ(rec.type, 9);
    CHECK_EQ(rec.run, 42);
    CHECK_EQ(rec.len, 4 + big);
    CHECK(memcmp(rec.payload, "head", 4) == 0 && memcmp(rec.payload + 4, body, big) == 0);
    char seg2[300];
    s_seg_path(seg2, sizeof seg2, dir, 2);
    CHECK_STREQ(rec.file, seg2);
    CHECK_EQ(rec.offset, 12);
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 1);
    s_check_rec(&rec, 1);
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 1);
    s_check_rec(&rec, 2);
    CHECK_EQ(wbi_journal_reader_next(r, &rec), 0);
    CHECK_EQ(wbi_journal_reader_damage_count(r), 0);
    wbi_journal_reader_close(&r);
    free(body);
    s_rmtree(dir);
}

// Directories are created 0700 (missing parents too), segments 0600.
static void test_modes(void)
{
    mode_t old = umask(022);
    char base[256];
    s_tmpdir(base, sizeof base);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/a/b/journal/", base);
    wbi_journal_t *j = s_open(dir, 0, 0, true);
    CHECK_OK(wbi_journal_append(j, 1, 1, "x", 1));
    wbi_journal_close(&j);
    const char *parts[] = {"a", "a/b", "a/b/journal"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", base, parts[i]);
        struct stat sb;
        CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
        CHECK_EQ(sb.st_mode & 0777, 0700);
    }
    char seg[400];
    snprintf(seg, sizeof seg, "%s/a/b/journal/000001.wjl", base);
    struct stat sb;
    CHECK(stat(seg, &sb) == 0 && S_ISREG(sb.st_mode));
    CHECK_EQ(sb.st_mode & 0777, 0600);
    umask(old);
    s_rmtree(base);
}

// Bad arguments, a directory that cannot be created, a reader on a missing directory,
// oversized payloads and injected allocation failures.
static void test_errors(void)
{
    char err[256];
    wbi_journal_t *j = (wbi_journal_t *)&err;
    CHECK_ERR(wbi_journal_open(&j, NULL, NULL, err, sizeof err), WANDB_EINVAL);
    CHECK(j == NULL);
    CHECK_ERR(wbi_journal_append(NULL, 1, 1, "x", 1), WANDB_EINVAL);
    CHECK_ERR(wbi_journal_flush(NULL), WANDB_EINVAL);
    CHECK_STREQ(wbi_journal_errmsg(NULL), "");

    char base[256];
    s_tmpdir(base, sizeof base);
    char file[300];
    snprintf(file, sizeof file, "%s/file", base);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/sub", file);
    CHECK_ERR(wbi_journal_open(&j, dir, NULL, err, sizeof err), WANDB_EIO);
    char want[500];
    snprintf(want, sizeof want, "cannot create directory '%s': %s", dir, strerror(ENOTDIR));
    CHECK_STREQ(err, want);
    CHECK_ERR(wbi_journal_open(&j, file, NULL, NULL, 0), WANDB_EIO);
    CHECK(!wbi_journal_is_dir(file));
    CHECK(!wbi_journal_is_dir(base));
    CHECK(!wbi_journal_is_dir(NULL));

    wbi_journal_reader_t *r = NULL;
    CHECK_ERR(wbi_journal_reader_open(&r, dir, err, sizeof err), WANDB_EIO);
    snprintf(want, sizeof want, "cannot read directory '%s': %s", dir, strerror(ENOTDIR));
    CHECK_STREQ(err, want);
    CHECK(r == NULL);
    CHECK_ERR(wbi_journal_reader_open(&r, "", err, sizeof err), WANDB_EINVAL);
    CHECK_EQ(wbi_journal_reader_next(NULL, NULL), 0);
    wbi_journal_reader_close(&r);

    // Oversized: refused before the payload is read.
    snprintf(dir, sizeof dir, "%s/j", base);
    j = s_open(dir, 0, 0, true);
    CHECK_ERR(wbi_journal_append(j, 1, 1, "x", (size_t)WBI_JOURNAL_RECORD_MAX + 1), WANDB_ETOOBIG);
    CHECK_ERR(wbi_journal_append2(j, 1, 1, "x", WBI_JOURNAL_RECORD_MAX, "y", 1), WANDB_ETOOBIG);
    CHECK_ERR(wbi_journal_append(j, 1, 1, NULL, 1), WANDB_EINVAL);
    CHECK_OK(wbi_journal_append(j, 1, 1, NULL, 0));
    // The first append allocates the buffer: make that fail.
    wbi_journal_close(&j);
    j = s_open(dir, 0, 0, true);
    wbi_alloc_fail_after(1);
    CHECK_ERR(wbi_journal_append(j, 1, 2, "ab", 2), WANDB_ENOMEM);
    CHECK_OK(wbi_journal_append(j, 1, 3, "cd", 2));
    wbi_journal_stats_t st;
    wbi_journal_get_stats(j, &st);
    CHECK_EQ(st.records, 1);
    wbi_journal_close(&j);

    // Every allocation of open and of the reader fails in turn: an error, nothing leaked.
    for (uint64_t n = 1; n < 20; n++) {
        wbi_alloc_fail_after(n);
        wandb_err rc = wbi_journal_open(&j, dir, NULL, err, sizeof err);
        wbi_alloc_fail_after(0);
        if (rc == WANDB_OK) {
            wbi_journal_close(&j);
            break;
        }
        CHECK(rc == WANDB_ENOMEM || rc == WANDB_EIO);
        CHECK(j == NULL);
    }
    for (uint64_t n = 1; n < 20; n++) {
        wbi_alloc_fail_after(n);
        wandb_err rc = wbi_journal_reader_open(&r, dir, err, sizeof err);
        size_t count = 0;
        if (rc == WANDB_OK) {
            wbi_jrec_t rec;
            while (wbi_journal_reader_next(r, &rec) == 1)
                count++;
            wbi_journal_reader_close(&r);
        }
        wbi_alloc_fail_after(0);
        CHECK(rc == WANDB_OK || rc == WANDB_ENOMEM);
        if (rc == WANDB_OK && count == 2)
            break;
    }
    s_rmtree(base);
}

// CRC-32C: the standard check value and RFC 3720 vectors; chaining; the hardware and
// table paths agree at every length and alignment.
static void test_crc32c(void)
{
    CHECK_EQ(wbi_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(wbi_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[512];
    memset(buf, 0, 32);
    CHECK_EQ(wbi_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CHECK_EQ(wbi_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CHECK_EQ(wbi_crc32c(0, buf, 32), 0x46DD794Eu);
    CHECK_EQ(wbi_crc32c(0, NULL, 0), 0);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131u + 7u);
    for (size_t off = 0; off < 16; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 1 + len / 8) {
            uint32_t whole = wbi_crc32c(0, buf + off, len);
            CHECK_EQ(whole, wbi_crc32c_sw(0, buf + off, len));
            size_t half = len / 3;
            CHECK_EQ(wbi_crc32c(wbi_crc32c(0, buf + off, half), buf + off + half, len - half),
                     whole);
        }
    }
    // Lengths around the interleaved rounds (3 x 64 and 3 x 1024 bytes).
    size_t big_len = 12 << 10;
    uint8_t *big = malloc(big_len + 8);
    CHECK(big != NULL);
    for (size_t i = 0; i < big_len + 8; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t len = 0; len <= 2048; len++)
        CHECK_EQ(wbi_crc32c(0x12345678u, big + len % 8, len),
                 wbi_crc32c_sw(0x12345678u, big + len % 8, len));
    const size_t lens[] = {3071, 3072, 3073, 3263, 3264, 3265,  3839, 3840,
                           3841, 6143, 6144, 6145, 9000, 12287, 12288};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t off = 0; off < 8; off += 3)
            CHECK_EQ(wbi_crc32c(0x12345678u, big + off, lens[i]),
                     wbi_crc32c_sw(0x12345678u, big + off, lens[i]));
    free(big);
}

WBT_MAIN({"round_trip", test_round_trip}, {"max_bytes", test_max_bytes},
         {"write_error", test_write_error}, {"damage_truncated", test_damage_truncated},
         {"damage_flip", test_damage_flip}, {"damage_garbage", test_damage_garbage},
         {"damage_random", test_damage_random}, {"fsync_count", test_fsync_count},
         {"threads", test_threads}, {"large_record", test_large_record}, {"modes", test_modes},
         {"errors", test_errors}, {"crc32c", test_crc32c})
