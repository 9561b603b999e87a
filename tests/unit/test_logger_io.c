//  test_logger_io.c - wandb_init/finish and the I/O thread over real ZeroMQ
//  SPDX-License-Identifier: MIT
//
//  A test thread plays the aggregator with a real ROUTER socket on an
//  ephemeral loopback port: it decodes every message, answers WELCOME after
//  HELLO and FINISHED after FINISH, and records what it saw. It is a CURVE
//  server (no ZAP handler: any client key is admitted), so the run connects
//  the way it does to a real aggregator.
#include "common/wire.h"
#include "logger/run.h"
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static char s_server_pub[41]; // the fake aggregator's CURVE key pair (every test)
static char s_server_sec[41];

typedef struct {
    void *ctx;             // the test's own context
    void *router;          // bound ROUTER
    char endpoint[128];    // where it is bound
    bool answer_finish;    // reply FINISHED to FINISH
    atomic_bool stalled;   // while set, the loop does not read (a stopped aggregator)
    atomic_bool quit;      // ends the loop
    int messages;          // messages received
    int heartbeats;        // header-only messages
    bool seq_ok;           // sequence numbers 0, 1, 2, ... without gaps
    bool hello_first;      // the first record was HELLO
    char hello[2048];      // HELLO payload
    int rows;              // ROW records
    int keys;              // KEY records
    int64_t last_step;     // step of the last ROW
    double value_sum;      // sum of every DOUBLE value
    bool finish_seen;      // FINISH received
    uint64_t fin_dropped;  // FINISH: values dropped
    uint64_t fin_rejected; // FINISH: calls rejected
    int32_t fin_code;      // FINISH: exit code
    size_t file_bytes;     // file bytes in FILE_CHUNK records
    int file_ends;         // FILE_END records
} fake_agg_t;

// Sends one record back to the peer identity.
static void s_reply(fake_agg_t *fa, zmq_msg_t *id, uint8_t type, const char *payload)
{
    size_t len = strlen(payload);
    uint8_t buf[512];
    wbi_wire_header_put(buf, 0);
    wbi_wire_record_put(buf + 8, type, (uint32_t)len);
    memcpy(buf + 13, payload, len);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    CHECK(zmq_msg_send(&copy, fa->router, ZMQ_SNDMORE) >= 0);
    CHECK(zmq_send(fa->router, buf, 13 + len, 0) >= 0);
}

// The fake aggregator loop: at most 60 s (sanitizers are slow), ends 100 ms
// after FINISH.
static void *s_fake_agg(void *arg)
{
    fake_agg_t *fa = arg;
    fa->seq_ok = true;
    int64_t deadline = wbi_now_ms() + 60000;
    int64_t end_at = INT64_MAX;
    uint32_t want_seq = 0;
    bool first = true;
    while (wbi_now_ms() < deadline && wbi_now_ms() < end_at && !atomic_load(&fa->quit)) {
        if (atomic_load(&fa->stalled)) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        zmq_pollitem_t item = {fa->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 10) <= 0)
            continue;
        zmq_msg_t id, msg;
        zmq_msg_init(&id);
        zmq_msg_init(&msg);
        CHECK(zmq_msg_recv(&id, fa->router, 0) >= 0);
        CHECK(zmq_msg_recv(&msg, fa->router, 0) >= 0);
        fa->messages++;
        wbi_wire_reader_t r;
        CHECK_OK(wbi_wire_reader_init(&r, zmq_msg_data(&msg), zmq_msg_size(&msg)));
        if (r.seq != want_seq)
            fa->seq_ok = false;
        want_seq = r.seq + 1;
        if (zmq_msg_size(&msg) == WBI_WIRE_HEADER_BYTES)
            fa->heartbeats++;
        wbi_wire_record_t rec;
        wandb_err err;
        while ((err = wbi_wire_next(&r, &rec)) == WANDB_OK) {
            if (first)
                fa->hello_first = rec.type == WBI_REC_HELLO;
            first = false;
            if (rec.type == WBI_REC_HELLO) {
                snprintf(fa->hello, sizeof(fa->hello), "%.*s", (int)rec.len, rec.payload);
                s_reply(fa, &id, WBI_REC_WELCOME,
                        "{\"entity\":\"ent\",\"url\":\"http://x/ent/p/runs/r\","
                        "\"runtime\":5.0}");
            } else if (rec.type == WBI_REC_KEY) {
                fa->keys++;
            } else if (rec.type == WBI_REC_ROW) {
                wbi_wire_row_t row;
                size_t bad;
                CHECK_OK(wbi_wire_row_parse(&rec, &row, &bad));
                fa->rows++;
                fa->last_step = row.step;
                const uint8_t *cur = row.values;
                wbi_wire_value_t v;
                while (wbi_wire_row_next(&row, &cur, &v))
                    if (v.type == WANDB_TYPE_DOUBLE)
                        fa->value_sum += v.as.d;
            } else if (rec.type == WBI_REC_FILE_CHUNK) {
                CHECK(rec.len >= 12);
                fa->file_bytes += rec.len - 12;
            } else if (rec.type == WBI_REC_FILE_END) {
                fa->file_ends++;
            } else if (rec.type == WBI_REC_FINISH) {
                CHECK_OK(wbi_wire_finish_parse(&rec, &fa->fin_code, &fa->fin_dropped,
                                               &fa->fin_rejected));
                fa->finish_seen = true;
                if (fa->answer_finish)
                    s_reply(fa, &id, WBI_REC_FINISHED, "");
                end_at = wbi_now_ms() + 100;
            }
        }
        CHECK_ERR(err, WANDB_ECLOSED);
        zmq_msg_close(&id);
        zmq_msg_close(&msg);
    }
    return NULL;
}

// Binds the fake aggregator's ROUTER (a CURVE server) on bind.
static void s_fake_start_at(fake_agg_t *fa, pthread_t *th, const char *bind)
{
    if (!s_server_pub[0])
        CHECK_EQ(zmq_curve_keypair(s_server_pub, s_server_sec), 0);
    fa->ctx = zmq_ctx_new();
    fa->router = zmq_socket(fa->ctx, ZMQ_ROUTER);
    CHECK(fa->router != NULL);
    int hwm = 1; // a stalled aggregator backs up quickly
    int on = 1;
    zmq_setsockopt(fa->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    CHECK_EQ(zmq_setsockopt(fa->router, ZMQ_CURVE_SERVER, &on, sizeof(on)), 0);
    CHECK_EQ(zmq_setsockopt(fa->router, ZMQ_CURVE_SECRETKEY, s_server_sec, 40), 0);
    CHECK_EQ(zmq_bind(fa->router, bind), 0);
    size_t len = sizeof(fa->endpoint);
    CHECK_EQ(zmq_getsockopt(fa->router, ZMQ_LAST_ENDPOINT, fa->endpoint, &len), 0);
    CHECK_EQ(pthread_create(th, NULL, s_fake_agg, fa), 0);
}

// Binds the fake aggregator's ROUTER on an ephemeral port.
static void s_fake_start(fake_agg_t *fa, pthread_t *th)
{
    s_fake_start_at(fa, th, "tcp://127.0.0.1:*");
}

// Joins the fake aggregator and frees its socket and context.
static void s_fake_stop(fake_agg_t *fa, pthread_t th)
{
    pthread_join(th, NULL);
    int zero = 0;
    zmq_setsockopt(fa->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(fa->router);
    zmq_ctx_term(fa->ctx);
}

// Settings for a run that talks to endpoint.
static wandb_settings_t *s_settings(const char *endpoint, const char *finish_ms)
{
    const char *vars[] = {"WANDB_MODE",
                          "WANDB_RUN_ID",
                          "WANDB_AGGREGATOR",
                          "WANDB_API_KEY",
                          "OMPI_COMM_WORLD_RANK",
                          "OMPI_COMM_WORLD_SIZE",
                          NULL};
    for (const char **v = vars; *v; v++)
        unsetenv(*v);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "aggregator", endpoint));
    CHECK_OK(wandb_settings_set(s, "secret", "s3cret"));
    char pub[41], sec[41];
    CHECK_EQ(zmq_curve_keypair(pub, sec), 0);
    if (!s_server_pub[0])
        CHECK_EQ(zmq_curve_keypair(s_server_pub, s_server_sec), 0);
    CHECK_OK(wandb_settings_set(s, "aggregator_server_key", s_server_pub));
    CHECK_OK(wandb_settings_set(s, "aggregator_client_key", pub));
    CHECK_OK(wandb_settings_set(s, "aggregator_client_secret", sec));
    CHECK_OK(wandb_settings_set(s, "project", "p"));
    CHECK_OK(wandb_settings_set(s, "run_id", "iorun1"));
    CHECK_OK(wandb_settings_set(s, "rank", "1"));
    CHECK_OK(wandb_settings_set(s, "world_size", "2"));
    CHECK_OK(wandb_settings_set(s, "heartbeat_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", finish_ms));
    CHECK_OK(wandb_settings_config_json(s, "{\"lr\": 0.5}"));
    return s;
}

// Normal use: init, log, WELCOME, heartbeats, finish with FINISHED.
static void test_init_log_finish(void)
{
    fake_agg_t fa = {.answer_finish = true};
    pthread_t th;
    s_fake_start(&fa, &th);
    wandb_settings_t *s = s_settings(fa.endpoint, "5000");
    wandb_run_t *run = NULL;
    int64_t t0 = wbi_now_ms();
    CHECK_OK(wandb_init(s, &run));
    int64_t init_ms = wbi_now_ms() - t0;
    fprintf(stderr, "init took %lld ms\n", (long long)init_ms);
    CHECK(init_ms < 2000); // generous for valgrind; never waits on the network
    CHECK(wandb_run() == run);
    wandb_run_t *second = NULL;
    CHECK_ERR(wandb_init(s, &second), WANDB_EEXIST);
    CHECK(strstr(wandb_settings_errmsg(s), "already active") != NULL);
    CHECK(second == NULL);
    CHECK_STREQ(wandb_run_name(run), "rank-1");
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", i), WANDB_DOUBLE("acc", 1)));
        sum += i + 1;
    }
    CHECK_OK(wandb_log_partial(run, WANDB_DOUBLE("last", 0.5)));
    sum += 0.5;
    CHECK_ERR(wandb_log_step(run, 3, WANDB_DOUBLE("old", 1)), WANDB_ESTEP);
    // WELCOME arrives through the I/O thread.
    for (int i = 0; i < 2000 && strcmp(wandb_run_entity(run), "ent") != 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK_STREQ(wandb_run_entity(run), "ent");
    // An app URL built here from the entity (the default base_url's app), not
    // the aggregator's API-based url.
    CHECK_STREQ(wandb_run_url(run), "https://wandb.ai/ent/p/runs/iorun1-1");
    CHECK_STREQ(wandb_run_path(run), "ent/p/iorun1-1"); // under MPI: <run_id>-<rank>
    struct timespec idle = {0, 200000000};              // 200 ms idle: heartbeats every 50 ms
    nanosleep(&idle, NULL);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(run == NULL);
    CHECK(wandb_run() == NULL);
    s_fake_stop(&fa, th);
    CHECK(fa.hello_first);
    CHECK(fa.seq_ok);
    CHECK(fa.heartbeats >= 2);
    json_error_t jerr;
    json_t *hello = json_loads(fa.hello, 0, &jerr);
    CHECK(hello != NULL);
    CHECK_STREQ(json_string_value(json_object_get(hello, "run_id")), "iorun1-1");
    CHECK_STREQ(json_string_value(json_object_get(hello, "secret")), "s3cret");
    CHECK_STREQ(json_string_value(json_object_get(hello, "name")), "rank-1");
    CHECK_EQ(json_integer_value(json_object_get(hello, "rank")), 1);
    CHECK_EQ(json_integer_value(json_object_get(hello, "world_size")), 2);
    CHECK(json_real_value(json_object_get(json_object_get(hello, "config"), "lr")) == 0.5);
    CHECK(json_is_null(json_object_get(hello, "entity")));
    CHECK(json_string_length(json_object_get(hello, "program")) > 0);
    json_decref(hello);
    CHECK_EQ(fa.keys, 3);
    CHECK_EQ(fa.rows, 1002); // 1000 + the partial + the empty COMMIT row at finish
    CHECK_EQ(fa.last_step, 1000);
    CHECK(fa.value_sum == sum);
    CHECK(fa.finish_seen);
    CHECK_EQ(fa.fin_code, 0);
    CHECK_EQ(fa.fin_rejected, 1);
    CHECK_EQ(fa.fin_dropped, 0);
    wandb_settings_destroy(&s);
}

// A silent aggregator: finish gives up after finish_timeout_ms and frees.
static void test_finish_times_out(void)
{
    fake_agg_t fa = {.answer_finish = false};
    pthread_t th;
    s_fake_start(&fa, &th);
    wandb_settings_t *s = s_settings(fa.endpoint, "300");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));
    int64_t t0 = wbi_now_ms();
    CHECK_ERR(wandb_finish(&run, 1), WANDB_ETIMEDOUT);
    int64_t took = wbi_now_ms() - t0;
    CHECK(took >= 290 && took < 2000);
    CHECK(run == NULL && wandb_run() == NULL);
    s_fake_stop(&fa, th);
    CHECK(fa.finish_seen);
    CHECK_EQ(fa.fin_code, 1);
    wandb_settings_destroy(&s);
}

// A stalled aggregator: ZeroMQ and then the ring fill up, calls are dropped
// and counted exactly, and everything accepted arrives once it reads again.
static void test_backpressure(void)
{
#ifdef __SANITIZE_THREAD__
    // Every (suppressed) report on a libzmq buffer costs TSan about a second,
    // and this case moves megabytes through libzmq. test_ring covers the
    // ring's concurrency under TSan.
    WBT_SKIP("under TSan: libzmq is not instrumented");
#endif
    fake_agg_t fa = {.answer_finish = true};
    atomic_init(&fa.stalled, true);
    pthread_t th;
    s_fake_start(&fa, &th);
    wandb_settings_t *s = s_settings(fa.endpoint, "40000");
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "65536"));
    // wait: calls give the I/O thread time to push into ZeroMQ, so the ring
    // only fills once ZeroMQ and TCP are backed up too.
    CHECK_OK(wandb_settings_set(s, "ring_full", "wait"));
    CHECK_OK(wandb_settings_set(s, "ring_wait_ms", "20"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    int64_t deadline = wbi_now_ms() + 20000;
    long ok = 0, full = 0;
    double sum = 0;
    for (long i = 0; full < 20 && wbi_now_ms() < deadline; i++) {
        wandb_err err = wandb_log(run, WANDB_DOUBLE("v", (double)(i % 1000)), WANDB_INT("i", i));
        CHECK(err == WANDB_OK || err == WANDB_EFULL);
        if (err == WANDB_OK) {
            ok++;
            sum += (double)(i % 1000);
        } else {
            full++;
        }
    }
    CHECK_EQ(full, 20); // the ring did fill up
    CHECK(ok > 5000);   // several ring-fulls: the I/O thread handed data to ZeroMQ
    CHECK_EQ(wandb_run_dropped(run), (uint64_t)full * 2);
    CHECK_EQ(wandb_run_step(run), ok + full); // dropped calls keep their step (#10)
    atomic_store(&fa.stalled, false);
    CHECK_OK(wandb_finish(&run, 0));
    s_fake_stop(&fa, th);
    fprintf(stderr, "backpressure: %ld calls accepted, %ld dropped\n", ok, full);
    CHECK(fa.seq_ok);
    CHECK_EQ(fa.rows, ok);
    CHECK(fa.value_sum == sum);
    CHECK_EQ(fa.fin_dropped, (uint64_t)full * 2);
    wandb_settings_destroy(&s);
}

typedef struct {
    wandb_run_t *run;
    atomic_bool go;     // start logging
    atomic_bool saving; // the save is still running
    int calls;          // calls made
    int dropped;        // calls that did not return WANDB_OK
    int64_t worst_ns;   // slowest call
} s_logger_t;

// Monotonic nanoseconds.
static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Logs a row every 50 us while the save runs (at least 2000 rows).
static void *s_logger(void *arg)
{
    s_logger_t *lg = arg;
    while (!atomic_load(&lg->go))
        sched_yield();
    for (int i = 0; i < 2000 || (atomic_load(&lg->saving) && i < 200000); i++) {
        int64_t t0 = s_now_ns();
        wandb_err err = wandb_log(lg->run, WANDB_DOUBLE("loss", i), WANDB_INT("i", i));
        int64_t took = s_now_ns() - t0;
        lg->worst_ns = took > lg->worst_ns ? took : lg->worst_ns;
        lg->calls++;
        lg->dropped += err != WANDB_OK;
        struct timespec gap = {0, 50000};
        nanosleep(&gap, NULL);
    }
    return NULL;
}

// wandb_save of a file 8 times the ring while another thread logs: with the
// default drop policy no row is dropped (chunks leave half the ring to rows)
// and log latency stays low (nobody waits for room under the run mutex).
static void test_save_while_logging(void)
{
#ifdef __SANITIZE_THREAD__
    WBT_SKIP("under TSan: libzmq is not instrumented");
#endif
    char path[64];
    snprintf(path, sizeof(path), "/tmp/wbt-save-log-%d.bin", (int)getpid());
    size_t size = 2u << 20;
    char *data = malloc(size);
    CHECK(data != NULL);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 7);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, size, f), size);
    fclose(f);
    free(data);
    fake_agg_t fa = {.answer_finish = true};
    pthread_t th;
    s_fake_start(&fa, &th);
    wandb_settings_t *s = s_settings(fa.endpoint, "20000");
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "262144"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    s_logger_t lg = {.run = run};
    atomic_init(&lg.go, false);
    atomic_init(&lg.saving, true);
    pthread_t lt;
    CHECK_EQ(pthread_create(&lt, NULL, s_logger, &lg), 0);
    atomic_store(&lg.go, true);
    int64_t t0 = wbi_now_ms();
    CHECK_OK(wandb_save(run, path, NULL, WANDB_SAVE_NOW));
    int64_t save_ms = wbi_now_ms() - t0;
    atomic_store(&lg.saving, false);
    pthread_join(lt, NULL);
    fprintf(stderr,
            "save of %zu bytes through a 256 KiB ring: %lld ms; %d rows logged meanwhile, "
            "%d dropped, worst log call %.3f ms\n",
            size, (long long)save_ms, lg.calls, lg.dropped, lg.worst_ns / 1e6);
    CHECK_EQ(lg.dropped, 0);
    CHECK_EQ(wandb_run_dropped(run), 0);
    CHECK(lg.worst_ns < 5 * 1000000LL);
    CHECK_OK(wandb_finish(&run, 0));
    s_fake_stop(&fa, th);
    CHECK_EQ(fa.rows, lg.calls);
    CHECK_EQ(fa.file_bytes, size);
    CHECK_EQ(fa.file_ends, 1);
    CHECK_EQ(fa.fin_dropped, 0);
    unlink(path);
    wandb_settings_destroy(&s);
}

// Nobody listening at all: init is still fast and finish bounded.
static void test_no_aggregator(void)
{
    wandb_settings_t *s = s_settings("tcp://127.0.0.1:1", "200");
    wandb_run_t *run = NULL;
    int64_t t0 = wbi_now_ms();
    CHECK_OK(wandb_init(s, &run));
    CHECK(wbi_now_ms() - t0 < 2000);
    for (int i = 0; i < 100; i++)
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", i)));
    t0 = wbi_now_ms();
    CHECK_ERR(wandb_finish(&run, 0), WANDB_ETIMEDOUT);
    CHECK(wbi_now_ms() - t0 < 2000);
    wandb_settings_destroy(&s);
}

// Modes: disabled works without anything; offline is refused clearly.
static void test_modes_and_errors(void)
{
    wandb_settings_t *s = s_settings("tcp://127.0.0.1:1", "200");
    CHECK_OK(wandb_settings_set(s, "mode", "disabled"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK(wandb_run() == run);
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(wandb_run() == NULL);
    // Offline: the in-process aggregator journals under dir, no backend, no key.
    char dir[] = "/tmp/wbt-offline-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_OK(wandb_settings_set(s, "mode", "offline"));
    CHECK_OK(wandb_settings_set(s, "aggregator", NULL));
    CHECK_OK(wandb_settings_set(s, "api_key", NULL));
    CHECK_OK(wandb_settings_set(s, "dir", dir));
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));
    CHECK_OK(wandb_finish(&run, 0));
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int journals = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        journals += strncmp(e->d_name, "journal-", 8) == 0;
    closedir(d);
    CHECK_EQ(journals, 1);
    CHECK(wbt_rm_tree(dir) == 0);
    CHECK_OK(wandb_settings_set(s, "dir", NULL));
    CHECK_OK(wandb_settings_set(s, "aggregator", "tcp://127.0.0.1:1"));
    // Resume waits for the aggregator's decision (at most init_timeout_ms);
    // nobody listens at port 1: a timeout that says why, and no run.
    CHECK_OK(wandb_settings_set(s, "mode", "online"));
    CHECK_OK(wandb_settings_set(s, "init_timeout_ms", "200"));
    const char *resumes[] = {"allow", "must", "never"};
    for (size_t i = 0; i < 3; i++) {
        CHECK_OK(wandb_settings_set(s, "resume", resumes[i]));
        CHECK_ERR(wandb_init(s, &run), WANDB_ETIMEDOUT);
        CHECK(strstr(wandb_settings_errmsg(s), "resume") != NULL);
        CHECK(run == NULL && wandb_run() == NULL);
    }
    setenv("WANDB_RESUME", "must", 1);
    CHECK_OK(wandb_settings_set(s, "resume", NULL));
    CHECK_ERR(wandb_init(s, &run), WANDB_ETIMEDOUT);
    unsetenv("WANDB_RESUME");
    CHECK_OK(wandb_settings_set(s, "init_timeout_ms", NULL));
    CHECK_OK(wandb_init(s, &run));                     // resume unset: no wait
    CHECK_ERR(wandb_finish(&run, 0), WANDB_ETIMEDOUT); // nobody listens at port 1
    wandb_settings_destroy(&s);
    // Online without endpoint and without API key (no netrc either).
    setenv("NETRC", "/nonexistent/netrc", 1);
    s = s_settings("tcp://127.0.0.1:1", "200");
    CHECK_OK(wandb_settings_set(s, "aggregator", NULL));
    CHECK_ERR(wandb_init(s, &run), WANDB_EAUTH);
    CHECK(strstr(wandb_settings_errmsg(s), "API key") != NULL);
    unsetenv("NETRC");
    wandb_settings_destroy(&s);
    setenv("WANDB_RUN_ID", "bad/id", 1);
    CHECK_ERR(wandb_init(NULL, &run), WANDB_EINVAL);
    unsetenv("WANDB_RUN_ID");
    CHECK_ERR(wandb_finish(NULL, 0), WANDB_EINVAL);
    CHECK_ERR(wandb_init(NULL, NULL), WANDB_EINVAL);
    wandb_shutdown();
}

// A new connection (the aggregator went away and came back on the same
// endpoint) starts with the run's HELLO again, before any other record; a
// welcomed run then continues ("resume": "never" became "allow").
static void test_rehello_on_reconnect(void)
{
    fake_agg_t a = {.answer_finish = true};
    pthread_t th;
    s_fake_start(&a, &th);
    char endpoint[128];
    snprintf(endpoint, sizeof(endpoint), "%s", a.endpoint);
    wandb_settings_t *s = s_settings(endpoint, "5000");
    CHECK_OK(wandb_settings_set(s, "resume", "never"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run)); // waits for the fake's WELCOME
    CHECK(!wandb_run_resumed(run));
    for (int i = 0; i < 10; i++)
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", i)));
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
    atomic_store(&a.quit, true);
    s_fake_stop(&a, th);
    CHECK(a.hello_first);
    CHECK(strstr(a.hello, "\"resume\":\"never\"") != NULL);
    CHECK_EQ(a.rows, 10);
    fake_agg_t b = {.answer_finish = true};
    s_fake_start_at(&b, &th, endpoint);
    nanosleep(&pause, NULL); // reconnected (every 100 ms), HELLO said again
    for (int i = 10; i < 20; i++)
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", i)));
    CHECK_OK(wandb_finish(&run, 0));
    s_fake_stop(&b, th);
    CHECK(b.hello_first);
    json_error_t jerr;
    json_t *hello = json_loads(b.hello, 0, &jerr);
    CHECK(hello != NULL);
    CHECK_STREQ(json_string_value(json_object_get(hello, "run_id")), "iorun1-1");
    CHECK_STREQ(json_string_value(json_object_get(hello, "secret")), "s3cret");
    CHECK_STREQ(json_string_value(json_object_get(hello, "resume")), "allow");
    CHECK(json_is_true(json_object_get(hello, "continued")));
    json_t *first = json_loads(a.hello, 0, &jerr);
    CHECK(first != NULL);
    CHECK(json_number_value(json_object_get(hello, "start_time")) ==
          json_number_value(json_object_get(first, "start_time")) - 5.0);
    json_decref(first);
    json_decref(hello);
    CHECK_EQ(b.rows, 10);
    CHECK(b.finish_seen);
    wandb_settings_destroy(&s);
}

WBT_MAIN({"rehello_on_reconnect", test_rehello_on_reconnect},
         {"init_log_finish", test_init_log_finish}, {"finish_times_out", test_finish_times_out},
         {"backpressure", test_backpressure}, {"no_aggregator", test_no_aggregator},
         {"modes_and_errors", test_modes_and_errors},
         {"save_while_logging", test_save_while_logging})
