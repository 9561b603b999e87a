//  test_settings.c - settings: defaults, environment, precedence, validation
//  SPDX-License-Identifier: MIT
#include "logger/settings.h"
#include "testutil.h"

#include <ctype.h>
#include <unistd.h>

static const char *const s_vars[] = {"WANDB_PROJECT",
                                     "WANDB_ENTITY",
                                     "WANDB_API_KEY",
                                     "WANDB_BASE_URL",
                                     "WANDB_MODE",
                                     "WANDB_RUN_GROUP",
                                     "WANDB_JOB_TYPE",
                                     "WANDB_NAME",
                                     "WANDB_NOTES",
                                     "WANDB_TAGS",
                                     "WANDB_RUN_ID",
                                     "WANDB_DIR",
                                     "WANDB_RESUME",
                                     "WANDB_AGGREGATOR",
                                     "WANDB_AGGREGATOR_SECRET",
                                     "WANDB_RING_BYTES",
                                     "WANDB_RING_FULL",
                                     "WANDB_RING_WAIT_MS",
                                     "WANDB_FLUSH_INTERVAL_MS",
                                     "WANDB_HEARTBEAT_MS",
                                     "WANDB_INIT_TIMEOUT_MS",
                                     "WANDB_FINISH_TIMEOUT_MS",
                                     "OMPI_COMM_WORLD_RANK",
                                     "OMPI_COMM_WORLD_SIZE",
                                     "PMIX_RANK",
                                     "PMI_RANK",
                                     "PMI_SIZE",
                                     "SLURM_PROCID",
                                     "SLURM_NTASKS",
                                     NULL};

// Points NETRC at a file with text (NULL: a file that does not exist).
static void s_netrc(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/wbt-netrc-%d", (int)getpid());
    if (text) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        fputs(text, f);
        fclose(f);
    } else {
        remove(path);
    }
    setenv("NETRC", path, 1);
}

// Clears every variable the settings read.
static void s_clear_env(void)
{
    for (const char *const *v = s_vars; *v; v++)
        unsetenv(*v);
}

// Expects wandb_settings_set to fail with exactly msg.
static void s_expect_set_error(const char *name, const char *value, const char *msg)
{
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_ERR(wandb_settings_set(s, name, value), WANDB_EINVAL);
    CHECK_STREQ(wandb_settings_errmsg(s), msg);
    wandb_settings_destroy(&s);
    CHECK(s == NULL);
}

// Expects resolve to fail with exactly msg.
static void s_expect_resolve_error(const wandb_settings_t *s, const char *msg)
{
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_ERR(wbi_settings_resolve(s, &cfg, err, sizeof(err)), WANDB_EINVAL);
    CHECK_STREQ(err, msg);
}

// Normal use and the defaults without any environment.
static void test_defaults(void)
{
    s_clear_env();
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.project, "uncategorized");
    CHECK_STREQ(cfg.base_url, "https://api.wandb.ai");
    CHECK(cfg.entity == NULL && cfg.group == NULL && cfg.name == NULL && cfg.aggregator == NULL);
    CHECK_EQ(cfg.mode, WBI_MODE_ONLINE);
    CHECK_EQ(cfg.rank, 0);
    CHECK_EQ(cfg.world_size, 1);
    CHECK(!cfg.under_mpi);
    CHECK_EQ(cfg.ring_bytes, 4 << 20);
    CHECK_EQ(cfg.ring_full, WBI_RING_DROP);
    CHECK_EQ(cfg.ring_wait_ms, 10);
    CHECK_EQ(cfg.flush_interval_ms, 15000);
    CHECK_EQ(cfg.heartbeat_ms, 1000);
    CHECK_EQ(cfg.init_timeout_ms, 90000);
    CHECK_EQ(cfg.finish_timeout_ms, 30000);
    CHECK_EQ(strlen(cfg.run_id), 8);
    for (int i = 0; i < 8; i++)
        CHECK(islower((unsigned char)cfg.run_id[i]) || isdigit((unsigned char)cfg.run_id[i]));
    wbi_cfg_t cfg2;
    CHECK_OK(wbi_settings_resolve(NULL, &cfg2, err, sizeof(err)));
    CHECK(strcmp(cfg.run_id, cfg2.run_id) != 0); // 36^8 ids: equal means broken randomness
    wbi_cfg_release(&cfg);
    wbi_cfg_release(&cfg2);
}

// The environment is read; an argument wins over it.
static void test_env_and_precedence(void)
{
    s_clear_env();
    setenv("WANDB_PROJECT", "envproj", 1);
    setenv("WANDB_ENTITY", "envent", 1);
    setenv("WANDB_RUN_GROUP", "g1", 1);
    setenv("WANDB_MODE", "disabled", 1);
    setenv("WANDB_RING_BYTES", "100000", 1);
    setenv("WANDB_RING_FULL", "wait", 1);
    setenv("WANDB_BASE_URL", "http://127.0.0.1:8080//", 1);
    setenv("WANDB_RUN_ID", "abc", 1);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "project", "argproj"));
    CHECK_OK(wandb_settings_set(s, "mode", "online"));
    CHECK_OK(wandb_settings_set(s, "heartbeat_ms", "250"));
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.project, "argproj");
    CHECK_STREQ(cfg.entity, "envent");
    CHECK_STREQ(cfg.group, "g1");
    CHECK_STREQ(cfg.run_id, "abc");
    CHECK_STREQ(cfg.base_url, "http://127.0.0.1:8080");
    CHECK_EQ(cfg.mode, WBI_MODE_ONLINE);
    CHECK_EQ(cfg.ring_bytes, 100000);
    CHECK_EQ(cfg.ring_full, WBI_RING_WAIT);
    CHECK_EQ(cfg.heartbeat_ms, 250);
    wbi_cfg_release(&cfg);
    // Unsetting an argument falls back to the environment.
    CHECK_OK(wandb_settings_set(s, "project", NULL));
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.project, "envproj");
    wbi_cfg_release(&cfg);
    wandb_settings_destroy(&s);
    s_clear_env();
}

// Rank and size from launcher variables; name rank-<r>; settings override.
static void test_rank_detection(void)
{
    s_clear_env();
    setenv("SLURM_PROCID", "5", 1);
    setenv("SLURM_NTASKS", "8", 1);
    setenv("OMPI_COMM_WORLD_RANK", "3", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_EQ(cfg.rank, 3); // Open MPI first
    CHECK_EQ(cfg.world_size, 4);
    CHECK(cfg.under_mpi);
    CHECK_STREQ(cfg.name, "rank-3");
    wbi_cfg_release(&cfg);
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_EQ(cfg.rank, 5);
    CHECK_EQ(cfg.world_size, 8);
    wbi_cfg_release(&cfg);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "rank", "1"));
    CHECK_OK(wandb_settings_set(s, "name", "trainer"));
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_EQ(cfg.rank, 1);
    CHECK_EQ(cfg.world_size, 8);
    CHECK_STREQ(cfg.name, "trainer");
    wbi_cfg_release(&cfg);
    CHECK_OK(wandb_settings_set(s, "rank", "8"));
    s_expect_resolve_error(s, "invalid setting 'rank': 8 is not below world_size 8");
    wandb_settings_destroy(&s);
    setenv("PMI_RANK", "x1", 1);
    unsetenv("SLURM_PROCID");
    s_expect_resolve_error(NULL, "invalid environment variable PMI_RANK: 'x1' is not a rank");
    s_clear_env();
}

// Every validation error says which setting and why.
static void test_set_errors(void)
{
    s_expect_set_error("speed", "1", "unknown setting 'speed'");
    s_expect_set_error("mode", "fast",
                       "invalid setting 'mode': 'fast' is not one of online, offline, disabled");
    s_expect_set_error("resume", "maybe",
                       "invalid setting 'resume': 'maybe' is not one of allow, must, never, auto");
    s_expect_set_error("ring_full", "block",
                       "invalid setting 'ring_full': 'block' is not one of drop, wait");
    s_expect_set_error("project", "a/b",
                       "invalid setting 'project': 'a/b' contains one of the characters /\\#?%:");
    s_expect_set_error("project", "",
                       "invalid setting 'project': must be 1 to 128 characters long");
    char longp[200];
    memset(longp, 'p', 129);
    longp[129] = '\0';
    s_expect_set_error("project", longp,
                       "invalid setting 'project': must be 1 to 128 characters long");
    s_expect_set_error("run_id", "a:b",
                       "invalid setting 'run_id': 'a:b' contains one of the characters :;,#?/'");
    s_expect_set_error("run_id", " ab",
                       "invalid setting 'run_id': ' ab' starts or ends with whitespace");
    s_expect_set_error("run_id", "", "invalid setting 'run_id': must be 1 to 128 characters long");
    s_expect_set_error("ring_bytes", "12",
                       "invalid setting 'ring_bytes': '12' is not an integer from 65536 to "
                       "1073741824");
    s_expect_set_error("ring_wait_ms", "10ms",
                       "invalid setting 'ring_wait_ms': '10ms' is not an integer from 0 to 60000");
    s_expect_set_error("heartbeat_ms", "99999999999999999999",
                       "invalid setting 'heartbeat_ms': '99999999999999999999' is not an integer "
                       "from 10 to 600000");
    s_expect_set_error("world_size", "0",
                       "invalid setting 'world_size': '0' is not an integer from 1 to 2147483647");
    s_expect_set_error("base_url", "ftp://x",
                       "invalid setting 'base_url': 'ftp://x' does not start with http:// or "
                       "https://");
    s_expect_set_error("aggregator", "localhost:5555",
                       "invalid setting 'aggregator': 'localhost:5555' is not a ZeroMQ endpoint "
                       "like tcp://host:port");
    s_expect_set_error("name", "\xff\xfe", "invalid setting 'name': the value is not valid UTF-8");
    char tags[100];
    memset(tags, 't', 70);
    memcpy(tags, "ok,", 3);
    tags[70] = '\0';
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_ERR(wandb_settings_set(s, "tags", tags), WANDB_EINVAL);
    CHECK(strstr(wandb_settings_errmsg(s), "is longer than 64 characters") != NULL);
    CHECK_OK(wandb_settings_set(s, "tags", "a, b ,c"));
    CHECK_STREQ(wandb_settings_errmsg(s), ""); // success clears the message
    CHECK_ERR(wandb_settings_set(s, NULL, "x"), WANDB_EINVAL);
    CHECK_ERR(wandb_settings_set(NULL, "project", "x"), WANDB_EINVAL);
    wandb_settings_destroy(&s);
    wandb_settings_destroy(&s); // NULL-safe
}

// A bad environment variable is reported by its name.
static void test_env_errors(void)
{
    s_clear_env();
    setenv("WANDB_MODE", "fast", 1);
    s_expect_resolve_error(NULL, "invalid environment variable WANDB_MODE: 'fast' is not one of "
                                 "online, offline, disabled");
    // An argument hides a bad variable.
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "mode", "disabled"));
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_EQ(cfg.mode, WBI_MODE_DISABLED);
    wbi_cfg_release(&cfg);
    wandb_settings_destroy(&s);
    s_clear_env();
    setenv("WANDB_RUN_ID", "x?y", 1);
    s_expect_resolve_error(NULL, "invalid environment variable WANDB_RUN_ID: 'x?y' contains one "
                                 "of the characters :;,#?/'");
    s_clear_env();
    setenv("WANDB_FINISH_TIMEOUT_MS", "-5", 1);
    s_expect_resolve_error(NULL, "invalid environment variable WANDB_FINISH_TIMEOUT_MS: '-5' is "
                                 "not an integer from 1 to 3600000");
    s_clear_env();
}

// Config JSON objects merge recursively; errors say where.
static void test_config_json(void)
{
    s_clear_env();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_config_json(s, "{\"lr\": 0.1, \"opt\": {\"name\": \"adam\"}}"));
    CHECK_OK(wandb_settings_config_json(s, "{\"opt\": {\"beta\": 0.9}, \"bad\": NaN}"));
    CHECK_ERR(wandb_settings_config_json(s, "[1, 2]"), WANDB_EINVAL);
    CHECK_STREQ(wandb_settings_errmsg(s), "invalid config: not a JSON object");
    CHECK_ERR(wandb_settings_config_json(s, "{\"a\": }"), WANDB_EINVAL);
    CHECK(strncmp(wandb_settings_errmsg(s), "invalid config: ", 16) == 0);
    CHECK(strstr(wandb_settings_errmsg(s), "line 1") != NULL);
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK(cfg.config_json != NULL);
    CHECK(strstr(cfg.config_json, "\"lr\":0.1") != NULL);
    CHECK(strstr(cfg.config_json, "\"name\":\"adam\"") != NULL);
    CHECK(strstr(cfg.config_json, "\"beta\":0.9") != NULL);
    CHECK(strstr(cfg.config_json, "\"bad\":NaN") != NULL);
    wbi_cfg_release(&cfg);
    wandb_settings_destroy(&s);
}

// The API key comes from the argument, then WANDB_API_KEY, then netrc
// (the machine of base_url, else default).
static void test_api_key_netrc(void)
{
    s_clear_env();
    s_netrc("machine api.wandb.ai login user password cloudkey\n"
            "machine 127.0.0.1\n  login user\n  password localkey\n"
            "default login x password defkey\n");
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.api_key, "cloudkey");
    wbi_cfg_release(&cfg);
    setenv("WANDB_BASE_URL", "http://127.0.0.1:8080/x", 1);
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.api_key, "localkey");
    wbi_cfg_release(&cfg);
    setenv("WANDB_BASE_URL", "https://other.example.com", 1);
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.api_key, "defkey");
    wbi_cfg_release(&cfg);
    setenv("WANDB_API_KEY", "envkey", 1);
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.api_key, "envkey");
    wbi_cfg_release(&cfg);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "api_key", "argkey"));
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.api_key, "argkey");
    wbi_cfg_release(&cfg);
    wandb_settings_destroy(&s);
    unsetenv("WANDB_API_KEY");
    // With an aggregator endpoint the rank needs no key: netrc is not read.
    setenv("WANDB_AGGREGATOR", "tcp://127.0.0.1:5555", 1);
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK(cfg.api_key == NULL);
    wbi_cfg_release(&cfg);
    unsetenv("WANDB_AGGREGATOR");
    s_netrc(NULL);
    CHECK_OK(wbi_settings_resolve(NULL, &cfg, err, sizeof(err)));
    CHECK(cfg.api_key == NULL);
    wbi_cfg_release(&cfg);
    unsetenv("NETRC");
    s_clear_env();
}

// Run ids: 8 characters of [a-z0-9], spread over the alphabet.
static void test_random_id(void)
{
    int seen[256] = {0};
    for (int i = 0; i < 200; i++) {
        char id[9];
        CHECK_OK(wbi_random_id(id, 8));
        CHECK_EQ(strlen(id), 8);
        for (int j = 0; j < 8; j++) {
            CHECK(islower((unsigned char)id[j]) || isdigit((unsigned char)id[j]));
            seen[(unsigned char)id[j]]++;
        }
    }
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += seen[c] > 0;
    CHECK_EQ(distinct, 36); // 1600 draws cover all 36 characters
}

// The transport security settings: Z85 keys (never echoed), curve or plain.
static void test_transport_keys(void)
{
    s_clear_env();
    const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    s_expect_set_error("aggregator_server_key", "short",
                       "invalid setting 'aggregator_server_key': not a CURVE key (40 characters "
                       "of Z85)");
    s_expect_set_error("aggregator_client_secret", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~",
                       "invalid setting 'aggregator_client_secret': not a CURVE key (40 "
                       "characters of Z85)");
    s_expect_set_error("transport_security", "none",
                       "invalid setting 'transport_security': 'none' is not one of curve, plain");
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "aggregator_server_key", key));
    CHECK_OK(wandb_settings_set(s, "aggregator_client_key", key));
    setenv("WANDB_AGGREGATOR_CLIENT_SECRET", key, 1);
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK_STREQ(cfg.server_key, key);
    CHECK_STREQ(cfg.client_key, key);
    CHECK_STREQ(cfg.client_secret, key);
    CHECK(!cfg.transport_plain);
    wbi_cfg_release(&cfg);
    setenv("WANDB_TRANSPORT_SECURITY", "plain", 1);
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    CHECK(cfg.transport_plain);
    wbi_cfg_release(&cfg);
    setenv("WANDB_AGGREGATOR_CLIENT_SECRET", "not-a-key", 1);
    s_expect_resolve_error(s, "invalid environment variable WANDB_AGGREGATOR_CLIENT_SECRET: not "
                              "a CURVE key (40 characters of Z85)");
    unsetenv("WANDB_AGGREGATOR_CLIENT_SECRET");
    unsetenv("WANDB_TRANSPORT_SECURITY");
    wandb_settings_destroy(&s);
}

WBT_MAIN({"transport_keys", test_transport_keys}, {"defaults", test_defaults},
         {"env_and_precedence", test_env_and_precedence}, {"rank_detection", test_rank_detection},
         {"set_errors", test_set_errors}, {"env_errors", test_env_errors},
         {"config_json", test_config_json}, {"api_key_netrc", test_api_key_netrc},
         {"random_id", test_random_id})
