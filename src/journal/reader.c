//  reader.c - the journal reader: every record of every segment, damage skipped and named
//  SPDX-License-Identifier: MIT
//
//  A segment is read through a window (S_WINDOW bytes, or one record when larger) and only
//  up to the size fstat gave when it was opened, so memory is bounded by the largest record
//  and nothing past the end of the file is ever read. Every length is checked against
//  WBI_JOURNAL_RECORD_MAX and against the bytes left before it is used.
#include "common/alloc.h"
#include "common/crc32c.h"
#include "journal.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_WINDOW (1u << 20) // bytes read at a time
#define S_MSGLEN 512        // longest damage message

struct wbi_journal_reader {
    char *dir;         // as given to open
    uint32_t *seqs;    // the segment numbers, ascending
    size_t nseg;       // how many
    size_t next_seg;   // index of the next segment to open
    char *path;        // the open segment's path (NULL when none)
    int fd;            // the open segment (-1 when none)
    uint64_t size;     // its size when opened: nothing past it is read
    uint64_t pos;      // file offset of the next record
    uint8_t *buf;      // the window
    size_t cap;        // bytes allocated
    size_t start;      // index in buf of the byte at file offset pos
    size_t end;        // bytes of buf holding file data
    char **damage;     // damage messages
    size_t ndamage;    // how many
    size_t damage_cap; // allocated
};

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

// Closes the open segment.
static void s_seg_close(wbi_journal_reader_t *self)
{
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    wbi_free(self->path);
    self->path = NULL;
    self->start = 0;
    self->end = 0;
}

// Records a damage message about the open segment and closes it (its rest is skipped).
// Without memory for the message, a fixed text is kept in its place when possible.
__attribute__((format(printf, 2, 3))) static void s_damage(wbi_journal_reader_t *self,
                                                           const char *fmt, ...)
{
    char what[S_MSGLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char msg[S_MSGLEN + 64];
    snprintf(msg, sizeof msg, "'%s': %s", self->path ? self->path : self->dir, what);
    s_seg_close(self);
    if (self->ndamage == self->damage_cap) {
        size_t cap = self->damage_cap ? self->damage_cap * 2 : 4;
        char **v = wbi_realloc(self->damage, cap * sizeof(*v));
        if (!v)
            return;
        self->damage = v;
        self->damage_cap = cap;
    }
    char *copy = wbi_strdup(msg);
    if (copy)
        self->damage[self->ndamage++] = copy;
}

// Makes n bytes from file offset pos available at buf + start. Returns 0, or an errno value
// (EIO when the file ended early: it shrank since it was opened).
static int s_need(wbi_journal_reader_t *self, size_t n)
{
    if (self->end - self->start >= n)
        return 0;
    size_t have = self->end - self->start;
    if (self->start > 0 && have > 0)
        memmove(self->buf, self->buf + self->start, have);
    self->start = 0;
    self->end = have;
    if (self->cap < n) {
        size_t cap = n > S_WINDOW ? n : S_WINDOW;
        uint8_t *b = wbi_realloc(self->buf, cap);
        if (!b)
            return ENOMEM;
        self->buf = b;
        self->cap = cap;
    }
    // Read ahead as far as the window and the file's size allow, at least n bytes.
    uint64_t file_left = self->size - (self->pos + have);
    size_t want = self->cap - self->end;
    if ((uint64_t)want > file_left)
        want = (size_t)file_left;
    while (self->end < n) {
        ssize_t got = read(self->fd, self->buf + self->end, want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (got == 0)
            return ENODATA; // the file shrank since it was opened
        self->end += (size_t)got;
        want -= (size_t)got;
    }
    return 0;
}

// The cause of a failed s_need, for a damage message.
static const char *s_read_error(int rc)
{
    return rc == ENODATA ? "the file shrank while being read" : strerror(rc);
}

// Opens the next segment and checks its header. Returns false when there is none left.
// A segment that cannot be opened or has a bad header is recorded as damage and skipped.
static bool s_seg_open(wbi_journal_reader_t *self)
{
    while (self->fd < 0) {
        if (self->next_seg >= self->nseg)
            return false;
        uint32_t seq = self->seqs[self->next_seg++];
        self->path = wbi_jseg_path(self->dir, seq);
        if (!self->path) {
            s_damage(self, "segment %u skipped: out of memory", (unsigned)seq);
            continue;
        }
        self->fd = open(self->path, O_RDONLY | O_CLOEXEC);
        if (self->fd < 0) {
            s_damage(self, "cannot open: %s", strerror(errno));
            continue;
        }
        struct stat sb;
        if (fstat(self->fd, &sb) != 0) {
            s_damage(self, "cannot stat: %s", strerror(errno));
            continue;
        }
        if (!S_ISREG(sb.st_mode)) {
            s_damage(self, "not a regular file");
            continue;
        }
        self->size = (uint64_t)sb.st_size;
        self->pos = 0;
        if (self->size == 0) {
            // Created but never written (a crash right after creating it): no records.
            s_seg_close(self);
            continue;
        }
        if (self->size < WBI_JOURNAL_SEG_HEADER) {
            s_damage(self, "truncated segment header at offset 0");
            continue;
        }
        int rc = s_need(self, WBI_JOURNAL_SEG_HEADER);
        if (rc != 0) {
            s_damage(self, "cannot read at offset 0: %s", s_read_error(rc));
            continue;
        }
        const uint8_t *h = self->buf + self->start;
        if (memcmp(h, WBI_JOURNAL_MAGIC, WBI_JOURNAL_MAGIC_LEN) != 0) {
            s_damage(self, "bad magic at offset 0");
            continue;
        }
        uint32_t version = wbi_jle32_get(h + WBI_JOURNAL_MAGIC_LEN);
        if (version != WBI_JOURNAL_VERSION) {
            s_damage(self, "unsupported format version %u at offset %u", (unsigned)version,
                     (unsigned)WBI_JOURNAL_MAGIC_LEN);
            continue;
        }
        self->start += WBI_JOURNAL_SEG_HEADER;
        self->pos = WBI_JOURNAL_SEG_HEADER;
    }
    return true;
}

// Lists the segments now; segments created later are not read.
wandb_err wbi_journal_reader_open(wbi_journal_reader_t **out, const char *dir, char *err,
                                  size_t errlen)
{
    s_errf(err, errlen, "%s", "");
    if (out)
        *out = NULL;
    if (!out || !dir || !*dir) {
        s_errf(err, errlen, "cannot read journal: no directory given");
        return WANDB_EINVAL;
    }
    wbi_journal_reader_t *self = wbi_calloc(1, sizeof(*self));
    char *dcopy = wbi_strdup(dir);
    int rc = self && dcopy ? 0 : ENOMEM;
    if (rc == 0) {
        self->fd = -1;
        self->dir = dcopy;
        rc = wbi_jseg_list(dir, &self->seqs, &self->nseg);
    }
    if (rc != 0) {
        if (rc == ENOMEM)
            s_errf(err, errlen, "cannot read journal '%s': out of memory", dir);
        else
            s_errf(err, errlen, "cannot read directory '%s': %s", dir, strerror(rc));
        wbi_free(dcopy);
        wbi_free(self);
        return rc == ENOMEM ? WANDB_ENOMEM : WANDB_EIO;
    }
    *out = self;
    return WANDB_OK;
}

// Validates one record at pos: length bounded by the cap and by the file, then the CRC.
int wbi_journal_reader_next(wbi_journal_reader_t *self, wbi_jrec_t *rec)
{
    if (!self || !rec)
        return 0;
    while (s_seg_open(self)) {
        uint64_t left = self->size - self->pos;
        if (left == 0) {
            s_seg_close(self);
            continue;
        }
        unsigned long long off = (unsigned long long)self->pos;
        if (left < WBI_JOURNAL_REC_HEADER) {
            s_damage(self, "truncated record at offset %llu", off);
            continue;
        }
        int rc = s_need(self, WBI_JOURNAL_REC_HEADER);
        if (rc != 0) {
            s_damage(self, "cannot read at offset %llu: %s", off, s_read_error(rc));
            continue;
        }
        const uint8_t *h = self->buf + self->start;
        uint32_t len = wbi_jle32_get(h);
        if (len > WBI_JOURNAL_RECORD_MAX) {
            s_damage(self, "bad record length %u at offset %llu", (unsigned)len, off);
            continue;
        }
        if ((uint64_t)len > left - WBI_JOURNAL_REC_HEADER) {
            s_damage(self, "truncated record at offset %llu", off);
            continue;
        }
        size_t framed = WBI_JOURNAL_REC_HEADER + (size_t)len;
        rc = s_need(self, framed);
        if (rc != 0) {
            s_damage(self, "cannot read at offset %llu: %s", off, s_read_error(rc));
            continue;
        }
        h = self->buf + self->start;
        uint32_t crc = wbi_crc32c(0, h + 8, framed - 8);
        if (crc != wbi_jle32_get(h + 4)) {
            s_damage(self, "checksum mismatch at offset %llu", off);
            continue;
        }
        *rec = (wbi_jrec_t){.type = h[8],
                            .run = wbi_jle32_get(h + 9),
                            .payload = h + WBI_JOURNAL_REC_HEADER,
                            .len = len,
                            .file = self->path,
                            .offset = self->pos};
        self->start += framed;
        self->pos += framed;
        return 1;
    }
    return 0;
}

// Messages so far.
size_t wbi_journal_reader_damage_count(const wbi_journal_reader_t *self)
{
    return self ? self->ndamage : 0;
}

// Message i, or NULL.
const char *wbi_journal_reader_damage(const wbi_journal_reader_t *self, size_t i)
{
    return self && i < self->ndamage ? self->damage[i] : NULL;
}

// Frees the window, the segment list and the messages.
void wbi_journal_reader_close(wbi_journal_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_journal_reader_t *self = *self_p;
    *self_p = NULL;
    s_seg_close(self);
    for (size_t i = 0; i < self->ndamage; i++)
        wbi_free(self->damage[i]);
    wbi_free(self->damage);
    wbi_free(self->buf);
    wbi_free(self->seqs);
    wbi_free(self->dir);
    wbi_free(self);
}

// Stops at the first name that parses as a segment.
bool wbi_journal_is_dir(const char *dir)
{
    if (!dir)
        return false;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    while (!found) {
        struct dirent *e = readdir(d);
        if (!e)
            break;
        uint32_t seq;
        found = wbi_jseg_parse(e->d_name, &seq);
    }
    closedir(d);
    return found;
}
