//  test_agg_artifact.c - the aggregator's artifact semantics, driven through its real core
//  SPDX-License-Identifier: MIT
//
//  Several peers (ranks) send ART_* records exactly as the rank library
//  writes them; the store is a real directory. Checks the manifests and
//  blobs on disk, the ACKs, and the documented rules: distributed merge,
//  dedup, conflict (first wins, later refused whole), upsert after finish
//  (next version), a rank that crashes before its upsert arrives (finish
//  commits without it and says so), digest mismatch (nothing committed).
#include "aggregator/artifact.h"
#include "aggregator/artstore.h"
#include "common/jsonx.h"
#include "common/md5.h"
#include "test_agg_util.h"

#include <dirent.h>

static char s_dir[128];  // the store of the running case
static char s_ack[4096]; // the last ART_ACK payload
static int s_acks;       // ART_ACKs seen

static const char *s_art_dir(void *arg)
{
    (void)arg;
    return s_dir;
}

static void s_reply(void *arg, const void *peer, size_t peer_len, const void *msg, size_t len)
{
    (void)arg;
    (void)peer;
    (void)peer_len;
    const uint8_t *m = msg;
    if (m[WBI_WIRE_HEADER_BYTES] != WBI_REC_ART_ACK)
        return;
    size_t plen = len - WBI_WIRE_HEADER_BYTES - WBI_WIRE_RECORD_HEADER;
    CHECK(plen < sizeof s_ack);
    memcpy(s_ack, m + WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER, plen);
    s_ack[plen] = '\0';
    s_acks++;
}

static wbi_agg_core_t *s_core(t_rec_t *r)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-art-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    wbi_agg_sink_t sink = t_sink(r);
    sink.artifact_dir = s_art_dir;
    wbi_agg_core_opts_t o = {.reply = s_reply, .heartbeat_timeout_ms = 1000, .no_job_run = true};
    wbi_agg_core_t *c = NULL;
    CHECK_OK(wbi_agg_core_new(&c, &o, &sink));
    return c;
}

// One peer: its routing id and message builder.
typedef struct {
    char id[16];
    t_msg_t m;
} s_peer_t;

static void s_send(wbi_agg_core_t *c, s_peer_t *p, int64_t now)
{
    wbi_agg_core_handle(c, p->id, strlen(p->id), p->m.b.data, p->m.b.len, now, 1000.0);
}

static void s_hello(wbi_agg_core_t *c, s_peer_t *p, int rank)
{
    snprintf(p->id, sizeof p->id, "peer%d", rank);
    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"run%d\",\"project\":\"p\",\"rank\":%d,\"world_size\":4,"
             "\"heartbeat_ms\":100}",
             rank, rank);
    t_begin(&p->m);
    t_put(&p->m, WBI_REC_HELLO, hello);
    s_send(c, p, 0);
}

static void s_digest(const char *data, char out[WBI_MD5_B64])
{
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    wbi_md5_update(&md5, data, strlen(data));
    wbi_md5_final_b64(&md5, out);
}

// Appends ART_FILE, chunks of at most 3 bytes, ART_FILE_END for one file;
// digest NULL: the right one.
static void s_file(t_msg_t *m, uint32_t op, uint32_t no, const char *name, const char *data,
                   const char *digest, bool end)
{
    char d[WBI_MD5_B64], head[512];
    s_digest(data, d);
    snprintf(head, sizeof head,
             "{\"op_id\":%u,\"file_no\":%u,\"name\":\"%s\",\"size\":%zu,\"digest\":\"%s\"}", op, no,
             name, strlen(data), digest ? digest : d);
    t_put(m, WBI_REC_ART_FILE, head);
    size_t len = strlen(data);
    for (size_t off = 0; off < len; off += 3) {
        uint8_t chunk[WBI_WIRE_ART_CHUNK_HEADER + 3];
        size_t n = len - off < 3 ? len - off : 3;
        wbi_put_u32(chunk, op);
        wbi_put_u32(chunk + 4, no);
        wbi_put_u64(chunk + 8, off);
        memcpy(chunk + WBI_WIRE_ART_CHUNK_HEADER, data + off, n);
        CHECK_OK(wbi_wire_put(&m->b, WBI_REC_ART_CHUNK, chunk, WBI_WIRE_ART_CHUNK_HEADER + n));
    }
    if (!end)
        return;
    uint8_t e[16];
    wbi_put_u32(e, op);
    wbi_put_u32(e + 4, no);
    wbi_put_u64(e + 8, len);
    CHECK_OK(wbi_wire_put(&m->b, WBI_REC_ART_FILE_END, e, sizeof e));
}

static void s_commit(t_msg_t *m, uint32_t op)
{
    uint8_t id[4];
    wbi_put_u32(id, op);
    CHECK_OK(wbi_wire_put(&m->b, WBI_REC_ART_COMMIT, id, sizeof id));
}

// A whole operation of p with files names[i] = datas[i]; returns the ACK.
static json_t *s_op(wbi_agg_core_t *c, s_peer_t *p, uint32_t op, const char *kind, const char *did,
                    size_t n, const char *const *names, const char *const *datas)
{
    char begin[512];
    snprintf(begin, sizeof begin,
             "{\"op_id\":%u,\"op\":\"%s\",\"name\":\"shards\",\"type\":\"dataset\","
             "\"aliases\":[],\"tags\":[],\"refs\":[],\"files\":%zu%s%s%s}",
             op, kind, n, did ? ",\"distributed_id\":\"" : "", did ? did : "", did ? "\"" : "");
    t_begin(&p->m);
    t_put(&p->m, WBI_REC_ART_BEGIN, begin);
    for (size_t i = 0; i < n; i++)
        s_file(&p->m, op, (uint32_t)i, names[i], datas[i], NULL, true);
    s_commit(&p->m, op);
    int before = s_acks;
    s_send(c, p, 10);
    CHECK_EQ(s_acks, before + 1);
    json_error_t jerr;
    json_t *ack = json_loads(s_ack, 0, &jerr);
    CHECK(ack != NULL);
    CHECK_EQ(json_integer_value(json_object_get(ack, "op_id")), (json_int_t)op);
    return ack;
}

static json_t *s_manifest(const char *version)
{
    char path[256];
    snprintf(path, sizeof path, "%s/p/shards/%s/manifest.json", s_dir, version);
    json_error_t jerr;
    json_t *m = json_load_file(path, 0, &jerr);
    if (!m)
        WBT_FAIL("no manifest at %s", path);
    return m;
}

static int s_count(const char *sub)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void s_check_entry(const json_t *manifest, const char *name, const char *data)
{
    const json_t *e = json_object_get(json_object_get(manifest, "contents"), name);
    if (!e)
        WBT_FAIL("no entry '%s' in the manifest", name);
    char d[WBI_MD5_B64];
    s_digest(data, d);
    CHECK_STREQ(json_string_value(json_object_get(e, "digest")), d);
    CHECK_EQ(json_integer_value(json_object_get(e, "size")), (json_int_t)strlen(data));
    char blob[512];
    CHECK(wbi_artstore_blob_path(s_dir, d, blob, sizeof blob));
    FILE *f = fopen(blob, "rb");
    CHECK(f != NULL);
    char got[256] = {0};
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    CHECK_EQ(n, strlen(data));
    CHECK(memcmp(got, data, n) == 0);
}

static void s_done(wbi_agg_core_t **c, t_rec_t *r, s_peer_t *peers, int n)
{
    wbi_agg_core_destroy(c);
    for (int i = 0; i < n; i++)
        t_msg_free(&peers[i].m);
    t_rec_free(r);
    wbt_rm_tree(s_dir);
}

#define N(...) ((const char *const[]){__VA_ARGS__})

// Four ranks upsert one shard each; rank 0 finishes: one version, four shards.
static void test_distributed_merge(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[4] = {0};
    for (int i = 0; i < 4; i++)
        s_hello(c, &p[i], i);
    const char *data[4] = {"shard zero", "shard one!", "shard two..", "shard three"};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "shard-%d.bin", i);
        json_t *ack = s_op(c, &p[i], 1, "upsert", "job7", 1, N(name), N(data[i]));
        CHECK(json_is_true(json_object_get(ack, "ok")));
        CHECK_EQ(json_integer_value(json_object_get(ack, "files")), i + 1);
        json_decref(ack);
    }
    json_t *ack = s_op(c, &p[0], 2, "finish", "job7", 0, NULL, NULL);
    CHECK(json_is_true(json_object_get(ack, "ok")));
    CHECK_STREQ(json_string_value(json_object_get(ack, "version")), "v0");
    CHECK_EQ(json_integer_value(json_object_get(ack, "files")), 4);
    json_decref(ack);
    json_t *m = s_manifest("v0");
    CHECK_EQ(json_object_size(json_object_get(m, "contents")), 4);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "shard-%d.bin", i);
        s_check_entry(m, name, data[i]);
    }
    CHECK_EQ(json_integer_value(json_object_get(m, "version")), 1);
    CHECK_STREQ(json_string_value(json_object_get(m, "storagePolicy")), "wandb-storage-policy-v1");
    json_decref(m);
    CHECK_EQ(s_count("p/shards"), 2); // v0 and aliases.json
    CHECK_EQ(s_count("tmp"), 0);
    s_done(&c, &r, p, 4);
}

// The same path with the same bytes from two ranks is kept (and stored) once.
static void test_same_contents_dedup(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[2] = {0};
    s_hello(c, &p[0], 0);
    s_hello(c, &p[1], 1);
    json_t *a = s_op(c, &p[0], 1, "upsert", "d", 1, N("common.txt"), N("same bytes"));
    json_t *b = s_op(c, &p[1], 1, "upsert", "d", 1, N("common.txt"), N("same bytes"));
    CHECK(json_is_true(json_object_get(b, "ok")));
    CHECK_EQ(json_integer_value(json_object_get(b, "files")), 1);
    json_decref(a);
    json_decref(b);
    json_t *f = s_op(c, &p[1], 2, "finish", "d", 0, NULL, NULL);
    CHECK(json_is_true(json_object_get(f, "ok")));
    json_decref(f);
    json_t *m = s_manifest("v0");
    CHECK_EQ(json_object_size(json_object_get(m, "contents")), 1);
    s_check_entry(m, "common.txt", "same bytes");
    json_decref(m);
    CHECK_EQ(s_count("blobs"), 1);
    s_done(&c, &r, p, 2);
}

// Another rank's different bytes for a path: refused whole, first one kept.
static void test_conflict_first_wins(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[2] = {0};
    s_hello(c, &p[0], 0);
    s_hello(c, &p[1], 1);
    json_decref(s_op(c, &p[0], 1, "upsert", "d", 1, N("x.txt"), N("from rank zero")));
    json_t *b = s_op(c, &p[1], 1, "upsert", "d", 2, N("y.txt", "x.txt"), N("y", "from rank one"));
    CHECK(!json_is_true(json_object_get(b, "ok")));
    CHECK_STREQ(json_string_value(json_object_get(b, "code")), "conflict");
    const char *why = json_string_value(json_object_get(b, "error"));
    CHECK(why && strstr(why, "'x.txt'") && strstr(why, "run 'run0' (rank 0)") &&
          strstr(why, "nothing of it merged"));
    json_decref(b);
    json_t *f = s_op(c, &p[0], 2, "finish", "d", 0, NULL, NULL);
    CHECK(json_is_true(json_object_get(f, "ok")));
    json_decref(f);
    json_t *m = s_manifest("v0");
    CHECK_EQ(json_object_size(json_object_get(m, "contents")), 1); // y.txt not merged either
    s_check_entry(m, "x.txt", "from rank zero");
    json_decref(m);
    s_done(&c, &r, p, 2);
}

// An upsert after the finish starts the next version, which holds only it.
static void test_upsert_after_finish(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[2] = {0};
    s_hello(c, &p[0], 0);
    s_hello(c, &p[1], 1);
    json_decref(s_op(c, &p[1], 1, "upsert", "d", 1, N("a.txt"), N("first")));
    json_decref(s_op(c, &p[0], 1, "finish", "d", 0, NULL, NULL));
    json_decref(s_op(c, &p[1], 2, "upsert", "d", 1, N("b.txt"), N("second")));
    json_t *f = s_op(c, &p[0], 2, "finish", "d", 0, NULL, NULL);
    CHECK_STREQ(json_string_value(json_object_get(f, "version")), "v1");
    json_decref(f);
    json_t *m0 = s_manifest("v0"), *m1 = s_manifest("v1");
    CHECK_EQ(json_object_size(json_object_get(m0, "contents")), 1);
    s_check_entry(m0, "a.txt", "first");
    CHECK_EQ(json_object_size(json_object_get(m1, "contents")), 1);
    s_check_entry(m1, "b.txt", "second");
    json_decref(m0);
    json_decref(m1);
    char path[256];
    snprintf(path, sizeof path, "%s/p/shards/aliases.json", s_dir);
    json_error_t jerr;
    json_t *al = json_load_file(path, 0, &jerr);
    CHECK_STREQ(json_string_value(json_object_get(al, "latest")), "v1");
    json_decref(al);
    s_done(&c, &r, p, 2);
}

// A rank that crashes in the middle of its upsert: finish does not wait,
// commits without it and names it; the crash drops its partial file.
static void test_crashed_rank_before_upsert(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[3] = {0};
    for (int i = 0; i < 3; i++)
        s_hello(c, &p[i], i);
    json_decref(s_op(c, &p[1], 1, "upsert", "d", 1, N("one.bin"), N("rank one shard")));
    // rank 2: begins, sends part of its file, then dies
    t_begin(&p[2].m);
    t_put(&p[2].m, WBI_REC_ART_BEGIN,
          "{\"op_id\":1,\"op\":\"upsert\",\"name\":\"shards\",\"type\":\"dataset\","
          "\"distributed_id\":\"d\",\"files\":1}");
    s_file(&p[2].m, 1, 0, "two.bin", "rank two shard", NULL, false);
    s_send(c, &p[2], 10);
    CHECK_EQ(s_count("tmp"), 1);
    json_t *f = s_op(c, &p[0], 1, "finish", "d", 0, NULL, NULL);
    CHECK(json_is_true(json_object_get(f, "ok")));
    json_t *inc = json_object_get(f, "incomplete");
    CHECK_EQ(json_array_size(inc), 1);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(inc, 0), "run")), "run2");
    json_decref(f);
    json_t *m = s_manifest("v0");
    CHECK_EQ(json_object_size(json_object_get(m, "contents")), 1);
    s_check_entry(m, "one.bin", "rank one shard");
    json_decref(m);
    // rank 2 goes silent past its heartbeat timeout: its operation is dropped
    for (int64_t now = 100; now <= 1600; now += 100) {
        for (int i = 0; i < 2; i++) {
            t_begin(&p[i].m);
            s_send(c, &p[i], now);
        }
        wbi_agg_core_tick(c, now, 1000.0 + (double)now / 1000);
        if (now == 500)
            CHECK_EQ(s_count("tmp"), 1); // still waiting for it
    }
    CHECK_EQ(s_count("tmp"), 0);
    s_done(&c, &r, p, 3);
}

// A file whose bytes do not have the announced digest: the operation is
// refused and nothing is committed or left behind.
static void test_digest_mismatch(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[1] = {0};
    s_hello(c, &p[0], 0);
    t_begin(&p[0].m);
    t_put(&p[0].m, WBI_REC_ART_BEGIN,
          "{\"op_id\":1,\"op\":\"log\",\"name\":\"shards\",\"type\":\"dataset\",\"files\":1}");
    s_file(&p[0].m, 1, 0, "a.txt", "the bytes", "AAAAAAAAAAAAAAAAAAAAAA==", true);
    s_commit(&p[0].m, 1);
    int before = s_acks;
    s_send(c, &p[0], 10);
    CHECK_EQ(s_acks, before + 1);
    CHECK(strstr(s_ack, "\"ok\":false") && strstr(s_ack, "digest"));
    CHECK_EQ(s_count("p"), -1); // no version directory at all
    CHECK_EQ(s_count("tmp"), 0);
    CHECK_EQ(s_count("blobs"), 0);
    s_done(&c, &r, p, 1);
}

// log twice with the same contents: one version; other contents: the next.
static void test_log_versions(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = s_core(&r);
    s_peer_t p[1] = {0};
    s_hello(c, &p[0], 0);
    json_t *a = s_op(c, &p[0], 1, "log", NULL, 1, N("w.bin"), N("weights 1"));
    CHECK_STREQ(json_string_value(json_object_get(a, "version")), "v0");
    json_t *b = s_op(c, &p[0], 2, "log", NULL, 1, N("w.bin"), N("weights 1"));
    CHECK_STREQ(json_string_value(json_object_get(b, "version")), "v0");
    CHECK(json_is_true(json_object_get(b, "existed")));
    json_t *d = s_op(c, &p[0], 3, "log", NULL, 1, N("w.bin"), N("weights 2"));
    CHECK_STREQ(json_string_value(json_object_get(d, "version")), "v1");
    // the artifact digest as W&B computes it
    json_t *contents = json_object();
    char dg[WBI_MD5_B64];
    s_digest("weights 2", dg);
    json_object_set_new(contents, "w.bin", json_pack("{s:s}", "digest", dg));
    char hex[33];
    wbi_artstore_digest(contents, hex);
    CHECK_STREQ(json_string_value(json_object_get(d, "digest")), hex);
    json_decref(contents);
    json_decref(a);
    json_decref(b);
    json_decref(d);
    s_done(&c, &r, p, 1);
}

WBT_MAIN({"distributed_merge", test_distributed_merge},
         {"same_contents_dedup", test_same_contents_dedup},
         {"conflict_first_wins", test_conflict_first_wins},
         {"upsert_after_finish", test_upsert_after_finish},
         {"crashed_rank_before_upsert", test_crashed_rank_before_upsert},
         {"digest_mismatch", test_digest_mismatch}, {"log_versions", test_log_versions})
