//  journal.c - the journal writer: buffered appends, segment files, flush = fdatasync
//  SPDX-License-Identifier: MIT
//
//  Two locks. `mu` guards the append side: the active batch, the byte and segment
//  accounting, the counters and the first error. `io_mu` guards the file side: the batch
//  being written, the open segment and the segments finished but not yet synced. Whoever
//  writes takes io_mu first, then mu only for the moment of swapping the two batches, so the
//  bytes reach the file in append order and an append (which takes only mu, and io_mu only
//  with trylock) never waits for a write or an fsync. Lock order: io_mu, then mu.
//
//  The append side decides where segments end: a record that would take the current
//  segment past segment_bytes starts a new one, so the batch carries "cuts" (offsets where
//  a new segment's header begins) and the writer opens the next file at each cut.
//
//  One file (about 720 lines): the two locks and their order are this file's
//  invariant; the segment format is segment.c and the reader reader.c already.
#include "journal.h"
#include "common/alloc.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PEND_MAX 8             // finished segments kept open until the next flush syncs them
#define S_BATCH_MIN (512u << 10) // first allocation of a batch
#define S_ERRLEN 320             // first-error text

// Bytes in memory on their way to the segments.
typedef struct {
    uint8_t *data;    // framed records, and a segment header at each cut
    size_t len;       // bytes used
    size_t cap;       // bytes allocated
    size_t *cuts;     // offsets in data where a new segment begins, ascending
    size_t ncuts;     // cuts used
    size_t cuts_cap;  // cuts allocated
    uint64_t records; // records in data (counted as lost when the write fails)
} s_batch_t;

struct wbi_journal {
    char *dir;              // as given to open
    uint64_t max_bytes;     // cap on all segments, existing ones included
    uint64_t segment_bytes; // a record that would pass this starts a new segment
    bool no_fsync;          // never fsync

    pthread_mutex_t mu;     // guards the fields down to errmsg
    s_batch_t active;       // appends go here
    uint64_t disk_bytes;    // existing segments + everything accepted since open
    uint64_t seg_used;      // bytes of the newest segment, buffered bytes included
    uint64_t seg_records;   // records in the newest segment
    bool appended;          // a record was accepted since the last flush took the batch
    wbi_journal_stats_t st; // counters
    bool failed;            // a write or sync failed: every later call gets WANDB_EIO
    char errmsg[S_ERRLEN];  // the first error (valid when failed)

    pthread_mutex_t io_mu;         // guards the fields below
    s_batch_t io;                  // the batch being written (empty between writes)
    int fd;                        // the open segment
    uint32_t fd_seq;               // its number
    int pend_fd[S_PEND_MAX];       // finished segments with unsynced bytes
    uint32_t pend_seq[S_PEND_MAX]; // their numbers
    size_t npend;                  // how many
    bool unsynced;                 // bytes written to fd since its last fdatasync
    bool dir_unsynced;             // a segment was created since the directory was last synced
};

// Counter deltas of one pass of the file side, added to st under mu at its end.
typedef struct {
    uint64_t bytes;    // written
    uint64_t fsyncs;   // fsync/fdatasync calls
    uint64_t segments; // files created
} s_delta_t;

// Formats into a caller's error buffer (NULL-safe).
__attribute__((format(printf, 3, 4))) static void s_errf(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

// Records the first error (later ones are dropped) and makes the journal refuse appends.
// The caller may hold io_mu, never mu; `lost` records of the failed batch are counted.
__attribute__((format(printf, 3, 4))) static void s_fail(wbi_journal_t *self, uint64_t lost,
                                                         const char *fmt, ...)
{
    pthread_mutex_lock(&self->mu);
    if (!self->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(self->errmsg, sizeof self->errmsg, fmt, ap);
        va_end(ap);
        self->failed = true;
    }
    self->st.dropped_io += lost;
    pthread_mutex_unlock(&self->mu);
}

// Grows the batch so that extra more bytes fit: doubling, or to the exact size for a record
// larger than that.
static wandb_err s_batch_reserve(s_batch_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return WANDB_OK;
    size_t cap = b->cap ? b->cap * 2 : S_BATCH_MIN;
    if (cap < b->len + extra)
        cap = b->len + extra;
    uint8_t *data = wbi_realloc(b->data, cap);
    if (!data)
        return WANDB_ENOMEM;
    b->data = data;
    b->cap = cap;
    return WANDB_OK;
}

// Makes room for one more cut.
static wandb_err s_batch_reserve_cut(s_batch_t *b)
{
    if (b->ncuts < b->cuts_cap)
        return WANDB_OK;
    size_t cap = b->cuts_cap ? b->cuts_cap * 2 : 8;
    size_t *cuts = wbi_realloc(b->cuts, cap * sizeof(*cuts));
    if (!cuts)
        return WANDB_ENOMEM;
    b->cuts = cuts;
    b->cuts_cap = cap;
    return WANDB_OK;
}

// Empties the batch; memory left by one oversized record is given back.
static void s_batch_clear(s_batch_t *b)
{
    b->len = 0;
    b->ncuts = 0;
    b->records = 0;
    if (b->cap > 2 * (size_t)WBI_JOURNAL_BUFFER_MAX) {
        wbi_free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

// Frees the batch's memory.
static void s_batch_release(s_batch_t *b)
{
    wbi_free(b->data);
    wbi_free(b->cuts);
    *b = (s_batch_t){0};
}

// Writes the segment header (magic, version) into p.
static void s_put_seg_header(uint8_t *p)
{
    memcpy(p, WBI_JOURNAL_MAGIC, WBI_JOURNAL_MAGIC_LEN);
    wbi_jle32_put(p + WBI_JOURNAL_MAGIC_LEN, WBI_JOURNAL_VERSION);
}

// write() until done; EINTR is retried. Returns 0 or an errno value.
static int s_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// fsyncs a directory. Returns 0 or an errno value.
static int s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

// Creates segment seq (O_EXCL: an existing file is never reused). Returns the fd, or -1
// with the errno value in *errnum and the message in err.
static int s_create_segment(const char *dir, uint32_t seq, int *errnum, char *err, size_t errlen)
{
    char *path = wbi_jseg_path(dir, seq);
    if (!path) {
        *errnum = ENOMEM;
        s_errf(err, errlen, "cannot create a segment in '%s': out of memory", dir);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        *errnum = errno;
        s_errf(err, errlen, "cannot create '%s': %s", path, strerror(*errnum));
    }
    wbi_free(path);
    return fd;
}

// Records the first error of a file operation on segment seq.
static void s_fail_seg(wbi_journal_t *self, uint64_t lost, const char *what, uint32_t seq,
                       int errnum)
{
    char *path = wbi_jseg_path(self->dir, seq);
    s_fail(self, lost, "cannot %s '%s': %s", what, path ? path : self->dir, strerror(errnum));
    wbi_free(path);
}

// fdatasyncs and closes the finished segments. Holds io_mu. Returns 0 or an errno value.
static int s_sync_pending(wbi_journal_t *self, s_delta_t *d)
{
    int rc = 0;
    size_t i = 0;
    for (; i < self->npend && rc == 0; i++) {
        d->fsyncs++;
        if (fdatasync(self->pend_fd[i]) != 0) {
            rc = errno;
            s_fail_seg(self, 0, "sync", self->pend_seq[i], rc);
        }
        close(self->pend_fd[i]);
    }
    // After a failure the rest are closed unsynced: the journal is failed anyway.
    for (; i < self->npend; i++)
        close(self->pend_fd[i]);
    self->npend = 0;
    return rc;
}

// Finishes the open segment and creates the next one. Holds io_mu. A finished segment with
// unsynced bytes stays open for the next flush to sync, unless S_PEND_MAX are waiting: then
// the oldest is synced here. Returns 0, or an errno value after recording the error.
static int s_next_segment(wbi_journal_t *self, s_delta_t *d, uint64_t lost)
{
    if (self->unsynced && !self->no_fsync) {
        if (self->npend == S_PEND_MAX) {
            uint32_t seq = self->pend_seq[0];
            d->fsyncs++;
            int rc = fdatasync(self->pend_fd[0]) == 0 ? 0 : errno;
            close(self->pend_fd[0]);
            self->npend--;
            memmove(self->pend_fd, self->pend_fd + 1, self->npend * sizeof(int));
            memmove(self->pend_seq, self->pend_seq + 1, self->npend * sizeof(uint32_t));
            if (rc != 0) {
                s_fail_seg(self, lost, "sync", seq, rc);
                return rc;
            }
        }
        self->pend_fd[self->npend] = self->fd;
        self->pend_seq[self->npend] = self->fd_seq;
        self->npend++;
    } else {
        close(self->fd);
    }
    self->fd = -1;
    self->unsynced = false;
    if (self->fd_seq == UINT32_MAX) {
        s_fail(self, lost, "cannot create a segment in '%s': segment numbers exhausted", self->dir);
        return ERANGE;
    }
    char err[S_ERRLEN];
    int rc = 0;
    int fd = s_create_segment(self->dir, self->fd_seq + 1, &rc, err, sizeof err);
    if (fd < 0) {
        s_fail(self, lost, "%s", err);
        return rc;
    }
    self->fd = fd;
    self->fd_seq++;
    self->dir_unsynced = true;
    d->segments++;
    return 0;
}

// Writes the io batch to the segments, opening a new one at each cut, and empties it.
// Holds io_mu. Returns 0, or an errno value after recording the error (the batch's records
// are counted as lost).
static int s_write_batch(wbi_journal_t *self, s_delta_t *d)
{
    s_batch_t *b = &self->io;
    size_t off = 0;
    int rc = 0;
    for (size_t i = 0; i <= b->ncuts && rc == 0; i++) {
        size_t end = i < b->ncuts ? b->cuts[i] : b->len;
        if (end > off) {
            rc = s_write_all(self->fd, b->data + off, end - off);
            if (rc != 0) {
                s_fail_seg(self, b->records, "write", self->fd_seq, rc);
                break;
            }
            d->bytes += end - off;
            self->unsynced = true;
            off = end;
        }
        if (i < b->ncuts)
            rc = s_next_segment(self, d, b->records);
    }
    s_batch_clear(b);
    return rc;
}

// Adds the file side's counter deltas. When nothing was appended meanwhile, the batch just
// written goes back to the append side: a single-threaded writer then reuses one buffer that
// stays in cache instead of alternating between two.
static void s_publish(wbi_journal_t *self, const s_delta_t *d, bool flushed)
{
    pthread_mutex_lock(&self->mu);
    if (self->active.len == 0 && self->io.cap >= self->active.cap) {
        s_batch_t t = self->active;
        self->active = self->io;
        self->io = t;
    }
    self->st.bytes += d->bytes;
    self->st.fsyncs += d->fsyncs;
    self->st.segments += d->segments;
    if (flushed)
        self->st.flushes++;
    pthread_mutex_unlock(&self->mu);
}

// Takes the active batch and writes it (no fsync). With wait false it gives up at once
// when another thread holds the file side: that one, or the next flush, takes the bytes.
static void s_drain(wbi_journal_t *self, bool wait)
{
    if (wait)
        pthread_mutex_lock(&self->io_mu);
    else if (pthread_mutex_trylock(&self->io_mu) != 0)
        return;
    pthread_mutex_lock(&self->mu);
    bool failed = self->failed;
    if (!failed) {
        s_batch_t t = self->active;
        self->active = self->io;
        self->io = t;
    }
    pthread_mutex_unlock(&self->mu);
    if (!failed) {
        s_delta_t d = {0};
        s_write_batch(self, &d);
        s_publish(self, &d, false);
    }
    pthread_mutex_unlock(&self->io_mu);
}

// Creates dir and its missing parents (mode 0700). *created: the last component was made
// here. Returns 0 or an errno value, with the message in err.
static int s_mkdirs(const char *dir, bool *created, char *err, size_t errlen)
{
    *created = false;
    char *p = wbi_strdup(dir);
    if (!p) {
        s_errf(err, errlen, "cannot create directory '%s': out of memory", dir);
        return ENOMEM;
    }
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) == 0) {
            *created = c == '\0';
        } else if (errno != EEXIST) {
            rc = errno;
            s_errf(err, errlen, "cannot create directory '%s': %s", p, strerror(rc));
        }
        p[i] = c;
    }
    struct stat sb;
    if (rc == 0) {
        if (stat(p, &sb) != 0)
            rc = errno;
        else if (!S_ISDIR(sb.st_mode))
            rc = ENOTDIR;
        if (rc != 0)
            s_errf(err, errlen, "cannot open journal directory '%s': %s", dir, strerror(rc));
    }
    wbi_free(p);
    return rc;
}

// Syncs the parent of a directory just created, so that its entry survives a power loss.
static int s_sync_parent(const char *dir)
{
    char *p = wbi_strdup(dir);
    if (!p)
        return ENOMEM;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    char *slash = strrchr(p, '/');
    int rc;
    if (!slash)
        rc = s_sync_dir(".");
    else if (slash == p)
        rc = s_sync_dir("/");
    else {
        *slash = '\0';
        rc = s_sync_dir(p);
    }
    wbi_free(p);
    return rc;
}

// Sums the sizes of the existing segments and finds the highest number.
static int s_scan(const char *dir, uint32_t *max_seq, uint64_t *bytes, char *err, size_t errlen)
{
    uint32_t *seqs;
    size_t n;
    int rc = wbi_jseg_list(dir, &seqs, &n);
    if (rc != 0) {
        s_errf(err, errlen, "cannot read directory '%s': %s", dir, strerror(rc));
        return rc;
    }
    *max_seq = n ? seqs[n - 1] : 0;
    *bytes = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = wbi_jseg_path(dir, seqs[i]);
        struct stat sb;
        if (!path) {
            rc = ENOMEM;
            s_errf(err, errlen, "cannot open journal '%s': out of memory", dir);
        } else if (stat(path, &sb) == 0 && sb.st_size > 0) {
            *bytes += (uint64_t)sb.st_size;
        }
        wbi_free(path);
    }
    wbi_free(seqs);
    return rc;
}

// Creates the directory, scans the existing segments (highest number, bytes for the cap) and
// creates the next segment with its header.
wandb_err wbi_journal_open(wbi_journal_t **out, const char *dir, const wbi_journal_opts_t *opts,
                           char *err, size_t errlen)
{
    s_errf(err, errlen, "%s", "");
    if (out)
        *out = NULL;
    if (!out || !dir || !*dir) {
        s_errf(err, errlen, "cannot open journal: no directory given");
        return WANDB_EINVAL;
    }
    wbi_journal_opts_t o = opts ? *opts : (wbi_journal_opts_t){0};
    bool created;
    int rc = s_mkdirs(dir, &created, err, errlen);
    if (rc != 0)
        return rc == ENOMEM ? WANDB_ENOMEM : WANDB_EIO;
    uint32_t max_seq;
    uint64_t existing;
    rc = s_scan(dir, &max_seq, &existing, err, errlen);
    if (rc != 0)
        return rc == ENOMEM ? WANDB_ENOMEM : WANDB_EIO;
    if (max_seq == UINT32_MAX) {
        s_errf(err, errlen, "cannot create a segment in '%s': segment numbers exhausted", dir);
        return WANDB_EIO;
    }

    wandb_err ret = WANDB_ENOMEM;
    wbi_journal_t *self = wbi_calloc(1, sizeof(*self));
    char *dcopy = wbi_strdup(dir);
    if (!self || !dcopy) {
        s_errf(err, errlen, "cannot open journal '%s': out of memory", dir);
        goto out_free;
    }
    self->dir = dcopy;
    self->max_bytes = o.max_bytes ? o.max_bytes : WBI_JOURNAL_MAX_BYTES;
    self->segment_bytes = o.segment_bytes ? o.segment_bytes : WBI_JOURNAL_SEGMENT_BYTES;
    self->no_fsync = o.no_fsync;
    self->fd_seq = max_seq + 1;
    self->fd = s_create_segment(dir, self->fd_seq, &rc, err, errlen);
    if (self->fd < 0) {
        ret = rc == ENOMEM ? WANDB_ENOMEM : WANDB_EIO;
        goto out_free;
    }
    uint8_t header[WBI_JOURNAL_SEG_HEADER];
    s_put_seg_header(header);
    rc = s_write_all(self->fd, header, sizeof header);
    if (rc != 0) {
        char *path = wbi_jseg_path(dir, self->fd_seq);
        s_errf(err, errlen, "cannot write '%s': %s", path ? path : dir, strerror(rc));
        wbi_free(path);
        ret = WANDB_EIO;
        goto out_close;
    }
    if (!self->no_fsync) {
        // The new file's entry; the header itself is synced with the first records.
        self->st.fsyncs++;
        rc = s_sync_dir(dir);
        if (rc == 0 && created) {
            self->st.fsyncs++;
            rc = s_sync_parent(dir);
        }
        if (rc != 0) {
            s_errf(err, errlen, "cannot sync directory '%s': %s", dir, strerror(rc));
            ret = WANDB_EIO;
            goto out_close;
        }
    }
    self->st.bytes = sizeof header;
    self->st.segments = 1;
    self->disk_bytes = existing + sizeof header;
    self->seg_used = sizeof header;
    pthread_mutex_init(&self->mu, NULL);
    pthread_mutex_init(&self->io_mu, NULL);
    *out = self;
    return WANDB_OK;

out_close:
    close(self->fd);
out_free:
    wbi_free(dcopy);
    wbi_free(self);
    return ret;
}

// One part: append2 with an empty second part.
wandb_err wbi_journal_append(wbi_journal_t *self, uint8_t type, uint32_t run, const void *payload,
                             size_t len)
{
    return wbi_journal_append2(self, type, run, payload, len, NULL, 0);
}

// Frames the record into the active batch (a segment header first when it starts a new
// segment); the CRC is computed before the lock is taken.
wandb_err wbi_journal_append2(wbi_journal_t *self, uint8_t type, uint32_t run, const void *a,
                              size_t alen, const void *b, size_t blen)
{
    if (!self || (alen && !a) || (blen && !b))
        return WANDB_EINVAL;
    if (alen > WBI_JOURNAL_RECORD_MAX || blen > WBI_JOURNAL_RECORD_MAX - alen)
        return WANDB_ETOOBIG;
    size_t len = alen + blen;
    uint8_t head[WBI_JOURNAL_REC_HEADER];
    wbi_jle32_put(head, (uint32_t)len);
    head[8] = type;
    wbi_jle32_put(head + 9, run);
    uint32_t crc = wbi_crc32c(0, head + 8, 5);
    crc = wbi_crc32c(crc, a, alen);
    if (blen)
        crc = wbi_crc32c(crc, b, blen);
    wbi_jle32_put(head + 4, crc);
    size_t framed = sizeof head + len;

    pthread_mutex_lock(&self->mu);
    if (self->active.len >= WBI_JOURNAL_BUFFER_MAX && !self->failed) {
        // The file side is behind by a whole buffer: write it here rather than grow.
        pthread_mutex_unlock(&self->mu);
        s_drain(self, true);
        pthread_mutex_lock(&self->mu);
    }
    wandb_err rc = WANDB_OK;
    if (self->failed) {
        self->st.dropped_io++;
        rc = WANDB_EIO;
        goto out_unlock;
    }
    bool cut = self->seg_records > 0 && self->seg_used + framed > self->segment_bytes;
    size_t need = framed + (cut ? WBI_JOURNAL_SEG_HEADER : 0);
    if (need > self->max_bytes || self->disk_bytes > self->max_bytes - need) {
        self->st.dropped_full++;
        rc = WANDB_EFULL;
        goto out_unlock;
    }
    s_batch_t *batch = &self->active;
    rc = s_batch_reserve(batch, need);
    if (rc == WANDB_OK && cut)
        rc = s_batch_reserve_cut(batch);
    if (rc != WANDB_OK)
        goto out_unlock;
    if (cut) {
        batch->cuts[batch->ncuts++] = batch->len;
        s_put_seg_header(batch->data + batch->len);
        batch->len += WBI_JOURNAL_SEG_HEADER;
        self->seg_used = WBI_JOURNAL_SEG_HEADER;
        self->seg_records = 0;
    }
    uint8_t *p = batch->data + batch->len;
    memcpy(p, head, sizeof head);
    if (alen)
        memcpy(p + sizeof head, a, alen);
    if (blen)
        memcpy(p + sizeof head + alen, b, blen);
    batch->len += framed;
    batch->records++;
    self->seg_used += framed;
    self->seg_records++;
    self->disk_bytes += need;
    self->st.records++;
    self->appended = true;
    bool write_now = batch->len >= WBI_JOURNAL_WRITE_BYTES;
    pthread_mutex_unlock(&self->mu);
    if (write_now)
        s_drain(self, false);
    return WANDB_OK;

out_unlock:
    pthread_mutex_unlock(&self->mu);
    return rc;
}

// Takes the batch under mu, then writes and syncs under io_mu only.
wandb_err wbi_journal_flush(wbi_journal_t *self)
{
    if (!self)
        return WANDB_EINVAL;
    pthread_mutex_lock(&self->io_mu);
    pthread_mutex_lock(&self->mu);
    bool failed = self->failed;
    bool appended = self->appended;
    if (!failed) {
        s_batch_t t = self->active;
        self->active = self->io;
        self->io = t;
        self->appended = false;
    }
    pthread_mutex_unlock(&self->mu);
    if (failed) {
        pthread_mutex_unlock(&self->io_mu);
        return WANDB_EIO;
    }
    s_delta_t d = {0};
    bool wrote = appended || self->unsynced || self->npend > 0;
    int rc = self->io.len ? s_write_batch(self, &d) : 0;
    if (rc == 0 && !self->no_fsync) {
        rc = s_sync_pending(self, &d);
        if (rc == 0 && self->dir_unsynced) {
            d.fsyncs++;
            rc = s_sync_dir(self->dir);
            if (rc != 0)
                s_fail(self, 0, "cannot sync directory '%s': %s", self->dir, strerror(rc));
            self->dir_unsynced = false;
        }
        if (rc == 0 && self->unsynced) {
            d.fsyncs++;
            if (fdatasync(self->fd) != 0) {
                rc = errno;
                s_fail_seg(self, 0, "sync", self->fd_seq, rc);
            }
        }
    }
    if (rc == 0)
        self->unsynced = false;
    s_publish(self, &d, wrote && rc == 0);
    pthread_mutex_unlock(&self->io_mu);
    return rc == 0 ? WANDB_OK : WANDB_EIO;
}

// The final flush is the last chance to report a write error: it is logged when it is new.
void wbi_journal_close(wbi_journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_journal_t *self = *self_p;
    *self_p = NULL;
    pthread_mutex_lock(&self->mu);
    bool failed_before = self->failed;
    pthread_mutex_unlock(&self->mu);
    if (wbi_journal_flush(self) != WANDB_OK && !failed_before)
        wbi_warn("journal '%s': %s", self->dir, self->errmsg);
    for (size_t i = 0; i < self->npend; i++)
        close(self->pend_fd[i]);
    if (self->fd >= 0)
        close(self->fd);
    s_batch_release(&self->active);
    s_batch_release(&self->io);
    pthread_mutex_destroy(&self->mu);
    pthread_mutex_destroy(&self->io_mu);
    wbi_free(self->dir);
    wbi_free(self);
}

// A snapshot under mu.
void wbi_journal_get_stats(wbi_journal_t *self, wbi_journal_stats_t *out)
{
    if (!out)
        return;
    if (!self) {
        *out = (wbi_journal_stats_t){0};
        return;
    }
    pthread_mutex_lock(&self->mu);
    *out = self->st;
    pthread_mutex_unlock(&self->mu);
}

// errmsg is written once, under mu, before failed is set; it never changes afterwards.
const char *wbi_journal_errmsg(wbi_journal_t *self)
{
    if (!self)
        return "";
    pthread_mutex_lock(&self->mu);
    const char *msg = self->failed ? self->errmsg : "";
    pthread_mutex_unlock(&self->mu);
    return msg;
}

// The directory as given to open.
const char *wbi_journal_dir(const wbi_journal_t *self)
{
    return self ? self->dir : "";
}
