//  sync.c - wandb-mpi sync: upload what a journal holds and the backend has not acknowledged
//  SPDX-License-Identifier: MIT
//
//  wandb-mpi sync [--base-url URL] [--api-key KEY] [--http2 MODE] [--ca-cert FILE]
//                 [--timeout-ms N] [--request-budget N] [--run ID]... [PATH...]
//  Every PATH is a journal directory or a directory searched for them
//  (default $WANDB_DIR, else ./wandb). Runs go to the backend through the
//  same client the aggregator uses, over one connection: the lines after the
//  last acknowledged one, at their offsets, and so the lines of the stream
//  files (wandb-events.jsonl, output.log), each at its own offsets; the last summary and config;
//  files; alerts of runs the backend never saw; the final state. What the
//  backend acknowledges is appended to the journal (ACK records), so a
//  second sync uploads nothing. A run found in several journals (a resumed
//  job) is sent journal after journal, oldest first, its lines continuing;
//  only its last journal sends the final state.
//  One file (about 620 lines): planning what each run still needs and sending it
//  share the per-run item table; the journal reading is already jload.c.
#include "cli/sync.h"
#include "backend/backend.h"
#include "cli/jload.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "journal/journal.h"
#include "journal/records.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_DIRS 4096   // journal directories one sync takes
#define S_WALK_DEPTH 4    // directory levels searched below a PATH
#define S_MAX_RUN_IDS 256 // --run filters
#define S_SLICE_MS 200    // drain slice (progress refresh, ACK flush)

// ACK records the journal refused (backend thread increments): the next sync
// would send those lines again, so the exit status says so.
static atomic_uint s_ack_refused;

typedef struct {
    const char *base_url;            // --base-url
    const char *api_key;             // --api-key
    int http2;                       // --http2
    const char *ca_cert;             // --ca-cert
    int timeout_ms;                  // --timeout-ms
    int budget;                      // --request-budget (requests/s; 0: the backend's default)
    const char *runs[S_MAX_RUN_IDS]; // --run
    size_t nruns;                    // entries in runs
    const char **paths;              // PATH arguments
    size_t npaths;                   // entries in paths
} s_opts_t;

// One run of one journal on its way to the backend.
typedef struct {
    wbi_jl_session_t *session;                // its journal
    wbi_jl_run_t *run;                        // its data
    wbi_journal_t *writer;                    // where its ACKs go (the session's)
    int wave;                                 // how many older journals hold the same run
    bool last;                                // no newer journal holds it: it sends the final state
    uint64_t from;                            // first line to send
    bool known_base;                          // the offset of its line 0 on this backend is known
    int64_t base;                             // that offset
    const char *url;                          // the backend (borrowed), written into its ACKs
    bool send_finish;                         // the final state is to be sent
    atomic_uint_fast64_t acked;               // lines acknowledged (backend thread)
    atomic_bool completed;                    // final state acknowledged (backend thread)
    uint64_t sfrom[WBI_STREAMS];              // first line to send, per stream
    int64_t sbase[WBI_STREAMS];               // offset of its line 0 on this backend
    atomic_uint_fast64_t sacked[WBI_STREAMS]; // stream lines acknowledged (backend thread)
} s_item_t;

// Prints usage.
static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: wandb-mpi sync [--base-url URL] [--api-key KEY] [--http2 "
            "auto|prior-knowledge|off]\n"
            "                      [--ca-cert FILE] [--timeout-ms N] [--request-budget N]\n"
            "                      [--run ID]... [PATH...]\n"
            "\n"
            "Uploads what journals hold and the backend has not acknowledged. PATH: a journal\n"
            "directory, or a directory searched for them (default $WANDB_DIR, else ./wandb).\n"
            "URL: --base-url, $WANDB_BASE_URL, the journal's, else https://api.wandb.ai.\n"
            "KEY: --api-key, $WANDB_API_KEY, else (a loopback URL) the local server's key file.\n");
}

// Parses the arguments after "sync"; 0 to go on, 1 on error, 2 after --help.
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    o->paths = wbi_calloc((size_t)argc + 1, sizeof *o->paths);
    if (!o->paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 2;
        }
        if (a[0] != '-') {
            o->paths[o->npaths++] = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        bool ok = v != NULL;
        char *end = NULL;
        if (ok && strcmp(a, "--base-url") == 0) {
            o->base_url = v;
        } else if (ok && strcmp(a, "--api-key") == 0) {
            o->api_key = v;
        } else if (ok && strcmp(a, "--http2") == 0) {
            ok = wbi_backend_parse_http2(v, &o->http2) == WANDB_OK;
        } else if (ok && strcmp(a, "--ca-cert") == 0) {
            o->ca_cert = v;
        } else if (ok && strcmp(a, "--timeout-ms") == 0) {
            long ms = strtol(v, &end, 10);
            ok = *v && !*end && ms > 0 && ms <= INT_MAX;
            o->timeout_ms = ok ? (int)ms : 0;
        } else if (ok && strcmp(a, "--request-budget") == 0) {
            long n = strtol(v, &end, 10);
            ok = *v && !*end && n > 0 && n <= 100000;
            o->budget = ok ? (int)n : 0;
        } else if (ok && strcmp(a, "--run") == 0 && o->nruns < S_MAX_RUN_IDS) {
            o->runs[o->nruns++] = v;
        } else {
            fprintf(stderr, "wandb-mpi sync: bad or incomplete option '%s' (see --help)\n", a);
            return 1;
        }
    }
    return 0;
}

// Adds the journal directories at or below path (depth levels) to dirs.
static void s_walk(const char *path, int depth, char **dirs, size_t *n)
{
    if (*n >= S_MAX_DIRS)
        return;
    if (wbi_journal_is_dir(path)) {
        dirs[*n] = wbi_strdup(path);
        *n += dirs[*n] != NULL;
        return;
    }
    DIR *d = depth > 0 ? opendir(path) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && *n < S_MAX_DIRS) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        struct stat st;
        int len = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (len > 0 && (size_t)len < sizeof sub && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            s_walk(sub, depth - 1, dirs, n);
    }
    closedir(d);
}

// Orders directories by name (a journal's name starts with its UTC time).
static int s_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Orders sessions by creation time, then directory.
static int s_session_cmp(const void *a, const void *b)
{
    const wbi_jl_session_t *x = a;
    const wbi_jl_session_t *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->dir, y->dir);
}

// True when two runs are the same W&B run (entity, project, id).
static bool s_same_run(const wbi_jl_run_t *a, const wbi_jl_run_t *b)
{
    const char *ea = wbi_jl_meta(a, "entity");
    const char *eb = wbi_jl_meta(b, "entity");
    return strcmp(wbi_jl_meta(a, "run_id"), wbi_jl_meta(b, "run_id")) == 0 &&
           strcmp(wbi_jl_meta(a, "project"), wbi_jl_meta(b, "project")) == 0 &&
           strcmp(ea ? ea : "", eb ? eb : "") == 0;
}

// True when --run names this run (or there is no --run).
static bool s_selected(const s_opts_t *o, const wbi_jl_run_t *run)
{
    if (!o->nruns)
        return true;
    for (size_t i = 0; i < o->nruns; i++)
        if (strcmp(o->runs[i], wbi_jl_meta(run, "run_id")) == 0)
            return true;
    return false;
}

// The backend's acknowledgements: counted, and journaled beside the run's data.
static void s_on_ack(void *arg, void *tag, const wbi_backend_ack_t *ack)
{
    (void)arg;
    s_item_t *it = tag;
    uint64_t lines = it->from + ack->lines;
    atomic_store(&it->acked, lines);
    if (ack->completed)
        atomic_store(&it->completed, true);
    json_t *o = json_pack("{s:I, s:I, s:b, s:s}", "first_offset",
                          (json_int_t)(ack->first_offset - (int64_t)it->from), "lines",
                          (json_int_t)lines, "completed", ack->completed, "base_url", it->url);
    json_t *files = json_object();
    for (int f = 0; f < WBI_STREAMS; f++) {
        uint64_t n = it->sfrom[f] + ack->streams[f].lines;
        atomic_store(&it->sacked[f], n);
        if (n && files)
            json_object_set_new(
                files, wbi_backend_stream_name(f),
                json_pack("{s:I, s:I}", "first_offset",
                          (json_int_t)(ack->streams[f].first_offset - (int64_t)it->sfrom[f]),
                          "lines", (json_int_t)n));
    }
    if (o && files && json_object_size(files))
        json_object_set(o, "files", files);
    json_decref(files);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (it->writer && (!text || wbi_journal_append(it->writer, WBI_JR_ACK, it->run->no, text,
                                                   strlen(text)) != WANDB_OK))
        atomic_fetch_add(&s_ack_refused, 1);
    free(text);
}

// Queues the run's artifact events again: their bytes are in the artifact store beside
// the journal (<journal parent>/artifacts). A version the server already has is answered
// COMMITTED and not uploaded again (docs/artifacts.md).
static void s_send_artifacts(wbi_backend_t *bk, wbi_backend_run_t *run, const s_item_t *it)
{
    if (!json_array_size(it->run->artifacts))
        return;
    char store[4096];
    const char *dir = it->session->dir;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    while (len > 0 && dir[len - 1] != '/')
        len--; // the journal's parent, with its '/'
    snprintf(store, sizeof store, "%.*sartifacts", (int)len, dir);
    size_t i;
    json_t *ev;
    json_array_foreach(it->run->artifacts, i, ev)
    {
        char *text = json_dumps(ev, JSON_COMPACT);
        if (text)
            wbi_backend_run_artifact(bk, run, text, strlen(text), store);
        free(text);
    }
}

// Hands one run's missing data to the backend.
static bool s_queue(wbi_backend_t *bk, s_item_t *it)
{
    wbi_jl_run_t *r = it->run;
    wbi_run_meta_t meta = {
        .run_id = wbi_jl_meta(r, "run_id"),
        .project = wbi_jl_meta(r, "project"),
        .entity = wbi_jl_meta(r, "entity"),
        .group = wbi_jl_meta(r, "group"),
        .job_type = wbi_jl_meta(r, "job_type"),
        .display_name = wbi_jl_meta(r, "display_name"),
        .notes = wbi_jl_meta(r, "notes"),
        .host = wbi_jl_meta(r, "host"),
        .program = wbi_jl_meta(r, "program"),
        .tags = wbi_jl_meta(r, "tags"),
        .tag = it,
        .has_first_offset = it->known_base,
        .first_offset = it->base + (int64_t)it->from,
    };
    for (int f = 0; f < WBI_STREAMS; f++)
        meta.stream_first_offset[f] = it->sbase[f] + (int64_t)it->sfrom[f];
    char *config = r->config.data;
    json_t *cfg = json_object_get(r->meta, "config");
    char *cfg_text = !config && cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    meta.config_json = config ? config : cfg_text;
    wbi_backend_run_t *run = wbi_backend_run_open(bk, &meta);
    free(cfg_text);
    if (!run)
        return false;
    for (uint64_t i = it->from; i < r->nlines; i++)
        wbi_backend_run_history(bk, run, r->lines[i].data, r->lines[i].len);
    for (int f = 0; f < WBI_STREAMS; f++)
        for (uint64_t i = it->sfrom[f]; i < r->nslines[f]; i++)
            wbi_backend_run_stream(bk, run, f, r->slines[f][i].data, r->slines[f][i].len);
    if (r->summary.data)
        wbi_backend_run_summary(bk, run, r->summary.data, r->summary.len);
    if (!r->acked) {
        size_t i;
        json_t *a;
        json_array_foreach(r->alerts, i, a)
        {
            wbi_backend_run_alert(bk, run, json_string_value(json_object_get(a, "title")),
                                  json_string_value(json_object_get(a, "text")),
                                  json_string_value(json_object_get(a, "level")),
                                  json_integer_value(json_object_get(a, "wait_ms")));
        }
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        char *data = wbi_malloc(r->files[i].len ? r->files[i].len : 1);
        if (!data)
            return false;
        memcpy(data, r->files[i].data, r->files[i].len);
        wandb_err rc = wbi_backend_run_file(bk, run, r->files[i].name, &data, r->files[i].len);
        if (rc != WANDB_OK)
            fprintf(stderr, "wandb-mpi sync: run '%s': file '%s' not uploaded: %s\n", meta.run_id,
                    r->files[i].name, wandb_strerror(rc));
    }
    s_send_artifacts(bk, run, it);
    if (r->preempting && !it->send_finish)
        wbi_backend_run_preempting(bk, run);
    if (it->send_finish)
        wbi_backend_run_finish(bk, run, r->exit_code);
    return true;
}

// True when the item has nothing left in flight.
static bool s_item_done(s_item_t *it)
{
    for (int f = 0; f < WBI_STREAMS; f++)
        if (atomic_load(&it->sacked[f]) < it->run->nslines[f])
            return false;
    return atomic_load(&it->acked) >= it->run->nlines &&
           (!it->send_finish || atomic_load(&it->completed));
}

// Prints one progress line on a terminal.
static void s_progress(s_item_t *items, size_t n, uint64_t total, bool tty)
{
    if (!tty)
        return;
    uint64_t sent = 0;
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        sent += atomic_load(&items[i].acked) - items[i].from;
        runs += s_item_done(&items[i]);
    }
    fprintf(stderr, "\rwandb-mpi sync: %llu/%llu rows, %zu/%zu runs", (unsigned long long)sent,
            (unsigned long long)total, runs, n);
}

// The API key of the bundled server when url is on this machine and the user gave none.
static char *s_local_key(const char *url)
{
    if (strncmp(url, "http://127.0.0.1:", 17) != 0 && strncmp(url, "http://localhost:", 17) != 0)
        return NULL;
    char path[PATH_MAX];
    const char *dir = getenv("WANDB_MPI_DIR");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/api_key", dir);
    else if (getenv("HOME"))
        snprintf(path, sizeof path, "%s/.wandb-mpi/api_key", getenv("HOME"));
    else
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char key[256] = "";
    bool ok = fgets(key, sizeof key, f) != NULL;
    fclose(f);
    key[strcspn(key, "\r\n")] = '\0';
    return ok && key[0] ? wbi_strdup(key) : NULL;
}

// Decides what each run still needs; returns the number of items to send.
static size_t s_plan(const s_opts_t *o, const char *url, wbi_jl_session_t *ss, size_t nss,
                     s_item_t *items, uint64_t *total_lines, int *max_wave)
{
    size_t n = 0;
    *total_lines = 0;
    *max_wave = -1;
    for (size_t s = 0; s < nss; s++) {
        for (size_t r = 0; r < ss[s].nruns; r++) {
            wbi_jl_run_t *run = &ss[s].runs[r];
            if (!s_selected(o, run))
                continue;
            int wave = 0;
            bool last = true;
            for (size_t t = 0; t < nss; t++) {
                for (size_t q = 0; t != s && q < ss[t].nruns; q++) {
                    if (s_same_run(run, &ss[t].runs[q])) {
                        wave += t < s;
                        last &= t < s;
                    }
                }
            }
            // Acknowledgements by another backend do not count for this one.
            bool acked = run->acked && (!run->ack_url || strcmp(run->ack_url, url) == 0);
            uint64_t ack_lines = acked ? run->ack_lines : 0;
            bool completed = acked && run->ack_completed;
            uint64_t from = ack_lines < run->nlines ? ack_lines : run->nlines;
            uint64_t sfrom[WBI_STREAMS];
            bool streams_out = true; // every stream line acknowledged
            for (int f = 0; f < WBI_STREAMS; f++) {
                uint64_t k = acked ? run->ack_slines[f] : 0;
                sfrom[f] = k < run->nslines[f] ? k : run->nslines[f];
                streams_out &= sfrom[f] == run->nslines[f];
            }
            bool finish = last && run->finished && !completed && !run->gap;
            if (acked && from == run->nlines && streams_out && !finish)
                continue; // the backend has all of it
            if (completed && from == run->nlines && streams_out)
                continue;
            s_item_t *it = &items[n++];
            it->session = &ss[s];
            it->run = run;
            it->wave = wave;
            it->last = last;
            it->from = from;
            it->send_finish = finish;
            // A run no older journal holds starts at offset 0 (a retry after a
            // crash of sync then overwrites, never appends); a later journal
            // of the same run continues after what the server holds.
            it->known_base = acked || wave == 0;
            it->base = acked ? run->ack_first : 0;
            it->url = url;
            atomic_init(&it->acked, from);
            atomic_init(&it->completed, false);
            for (int f = 0; f < WBI_STREAMS; f++) {
                it->sfrom[f] = sfrom[f];
                // No server count for these files: line 0 goes where the older
                // journals of the run (sent in earlier waves) left off, else 0.
                it->sbase[f] = acked ? run->ack_sfirst[f] : 0;
                for (size_t t = 0; !acked && t < s; t++)
                    for (size_t q = 0; q < ss[t].nruns; q++)
                        if (s_same_run(run, &ss[t].runs[q]))
                            it->sbase[f] += (int64_t)ss[t].runs[q].nslines[f];
                atomic_init(&it->sacked[f], sfrom[f]);
            }
            *total_lines += run->nlines - from;
            *max_wave = wave > *max_wave ? wave : *max_wave;
        }
    }
    return n;
}

// Sends the items wave by wave over one backend client; returns WANDB_OK
// when everything was acknowledged.
static wandb_err s_send(const s_opts_t *o, const char *url, const char *key, s_item_t *items,
                        size_t n, int max_wave, uint64_t total)
{
    wbi_backend_opts_t bo = {.base_url = url,
                             .api_key = key,
                             .http2 = o->http2,
                             .ca_cert = o->ca_cert,
                             .request_budget = o->budget,
                             .on_ack = s_on_ack};
    wbi_backend_t *bk = NULL;
    wandb_err rc = wbi_backend_new(&bk, &bo);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb-mpi sync: cannot start the backend client for '%s': %s\n", url,
                wandb_strerror(rc));
        return rc;
    }
    bool tty = isatty(STDERR_FILENO);
    int64_t deadline = wbi_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 3600000);
    for (int wave = 0; wave <= max_wave && rc == WANDB_OK; wave++) {
        for (size_t i = 0; i < n; i++)
            if (items[i].wave == wave && !s_queue(bk, &items[i]))
                rc = WANDB_ENOMEM;
        wandb_err drc = WANDB_ETIMEDOUT;
        while (rc == WANDB_OK && drc != WANDB_OK) {
            int64_t left = deadline - wbi_now_ms();
            if (left <= 0)
                break;
            drc = wbi_backend_drain(bk, left < S_SLICE_MS ? (int)left : S_SLICE_MS);
            // What was acknowledged is on disk within a slice: a sync that dies
            // does not send it again.
            for (size_t i = 0; i < n; i++)
                if (items[i].writer)
                    wbi_journal_flush(items[i].writer);
            s_progress(items, n, total, tty);
            rc = wbi_backend_result(bk);
        }
        if (rc == WANDB_OK && drc != WANDB_OK)
            rc = WANDB_ETIMEDOUT;
    }
    if (tty)
        fputc('\n', stderr);
    if (rc != WANDB_OK)
        fprintf(stderr, "wandb-mpi sync: %s: %s\n", wandb_strerror(rc),
                rc == WANDB_ETIMEDOUT ? "not everything was acknowledged in time"
                                      : wbi_backend_errmsg(bk));
    wbi_backend_destroy(&bk);
    return rc;
}

int wbi_cli_sync(int argc, char **argv)
{
    s_opts_t o = {0};
    int prc = s_parse(argc, argv, &o);
    if (prc != 0) {
        wbi_free(o.paths);
        return prc == 2 ? 0 : 2;
    }
    int64_t t0 = wbi_now_ms();
    if (!o.npaths) {
        const char *d = getenv("WANDB_DIR");
        o.paths[o.npaths++] = d && *d ? d : "wandb";
    }
    char **dirs = wbi_calloc(S_MAX_DIRS, sizeof *dirs);
    wbi_jl_session_t *ss = wbi_calloc(S_MAX_DIRS, sizeof *ss);
    size_t ndirs = 0;
    size_t nss = 0;
    int exit_code = 0;
    if (!dirs || !ss) {
        fprintf(stderr, "wandb-mpi sync: out of memory\n");
        exit_code = 1;
        goto out;
    }
    for (size_t i = 0; i < o.npaths; i++) {
        size_t before = ndirs;
        struct stat st;
        if (stat(o.paths[i], &st) != 0) {
            fprintf(stderr, "wandb-mpi sync: cannot read '%s': %s\n", o.paths[i], strerror(errno));
            exit_code = 1;
            continue;
        }
        s_walk(o.paths[i], S_WALK_DEPTH, dirs, &ndirs);
        if (ndirs == before)
            fprintf(stderr, "wandb-mpi sync: no journal in '%s'\n", o.paths[i]);
    }
    qsort(dirs, ndirs, sizeof *dirs, s_strcmp);
    size_t nruns_total = 0;
    for (size_t i = 0; i < ndirs; i++) {
        if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0)
            continue; // named twice
        char err[512] = "";
        if (wbi_jl_load(&ss[nss], dirs[i], err, sizeof err) != WANDB_OK) {
            fprintf(stderr, "wandb-mpi sync: %s\n", err);
            wbi_jl_release(&ss[nss]);
            exit_code = 1;
            continue;
        }
        for (size_t d = 0; d < ss[nss].ndamage; d++) {
            fprintf(stderr,
                    "wandb-mpi sync: damaged journal: %s; the rest of that segment is skipped\n",
                    ss[nss].damage[d]);
            exit_code = 1;
        }
        if (ss[nss].after_gap || ss[nss].bad) {
            fprintf(stderr,
                    "wandb-mpi sync: '%s': %llu records unusable, %llu lines and final states "
                    "after the damage not sent (their place in the run is unknown)\n",
                    dirs[i], (unsigned long long)ss[nss].bad,
                    (unsigned long long)ss[nss].after_gap);
            exit_code = 1;
        }
        nruns_total += ss[nss].nruns;
        nss++;
    }
    qsort(ss, nss, sizeof *ss, s_session_cmp);

    const char *url = o.base_url ? o.base_url : getenv("WANDB_BASE_URL");
    for (size_t i = 0; (!url || !*url) && i < nss; i++)
        url = ss[i].base_url;
    if (!url || !*url)
        url = "https://api.wandb.ai";
    s_item_t *items = nruns_total ? wbi_calloc(nruns_total, sizeof *items) : NULL;
    uint64_t total = 0;
    int max_wave = -1;
    size_t n = items ? s_plan(&o, url, ss, nss, items, &total, &max_wave) : 0;
    if (n == 0) {
        printf("wandb-mpi sync: nothing to upload to %s (%zu journal%s, %zu runs)\n", url, nss,
               nss == 1 ? "" : "s", nruns_total);
        wbi_free(items);
        goto out;
    }
    const char *key = o.api_key ? o.api_key : getenv("WANDB_API_KEY");
    char *local_key = key && *key ? NULL : s_local_key(url);
    if (local_key)
        key = local_key;
    // ACKs go into each journal (a new segment beside the old ones).
    for (size_t s = 0; s < nss; s++) {
        wbi_journal_t *w = NULL;
        char err[512] = "";
        bool used = false;
        for (size_t i = 0; i < n; i++)
            used |= items[i].session == &ss[s];
        // No cap: the journal's own cap (counted over its old segments) must not
        // refuse the records that make a second sync a no-op.
        wbi_journal_opts_t jo = {.max_bytes = UINT64_MAX};
        if (used && wbi_journal_open(&w, ss[s].dir, &jo, err, sizeof err) != WANDB_OK)
            fprintf(stderr,
                    "wandb-mpi sync: %s (a later sync uploads again what this one "
                    "sends)\n",
                    err);
        for (size_t i = 0; i < n; i++)
            if (items[i].session == &ss[s])
                items[i].writer = w;
    }
    wandb_err rc = s_send(&o, url, key, items, n, max_wave, total);
    uint64_t rows = 0;
    uint64_t bytes = 0;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t acked = atomic_load(&items[i].acked);
        for (uint64_t l = items[i].from; l < acked && l < items[i].run->nlines; l++)
            bytes += items[i].run->lines[l].len;
        rows += acked - items[i].from;
        done += s_item_done(&items[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!items[i].writer)
            continue;
        wbi_journal_t *w = items[i].writer;
        for (size_t j = i; j < n; j++)
            if (items[j].writer == w)
                items[j].writer = NULL;
        wbi_journal_close(&w);
    }
    bool complete = rc == WANDB_OK && done == n && rows == total;
    printf("wandb-mpi sync: %zu/%zu runs, %llu/%llu rows, %llu bytes, %.1f s%s\n", done, n,
           (unsigned long long)rows, (unsigned long long)total, (unsigned long long)bytes,
           (double)(wbi_now_ms() - t0) / 1000.0, complete ? "" : " (incomplete)");
    if (!complete && rc == WANDB_EAUTH) {
        fprintf(stderr, "wandb-mpi sync: the backend refused the API key: give the right one "
                        "(--api-key or WANDB_API_KEY; for wandb-mpi-server on this machine the "
                        "default is $WANDB_MPI_DIR/api_key, else ~/.wandb-mpi/api_key), then "
                        "run the same command again\n");
        exit_code = 1;
    } else if (!complete) {
        fprintf(stderr, "wandb-mpi sync: not everything was acknowledged; run the same command "
                        "again to send the rest\n");
        exit_code = 1;
    }
    if (atomic_load(&s_ack_refused)) {
        fprintf(stderr,
                "wandb-mpi sync: %u acknowledgements could not be journaled; a later sync "
                "sends those rows again (the server keeps one copy per offset)\n",
                atomic_load(&s_ack_refused));
        exit_code = 1;
    }
    wbi_free(local_key);
    wbi_free(items);
out:
    for (size_t i = 0; i < nss; i++)
        wbi_jl_release(&ss[i]);
    for (size_t i = 0; dirs && i < ndirs; i++)
        wbi_free(dirs[i]);
    wbi_free(ss);
    wbi_free(dirs);
    wbi_free(o.paths);
    return exit_code;
}
