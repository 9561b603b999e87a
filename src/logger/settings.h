//  settings.h - run settings: arguments, environment, defaults, validation
//  SPDX-License-Identifier: MIT
//
//  wandb_settings_t (public, opaque) holds what the caller set, validated at
//  set time. wbi_settings_resolve() merges it with the environment and the
//  defaults into a wbi_cfg_t (arguments win over the environment). Every
//  setting, its variable, default and validation: docs/settings.md.
//  Thread: the owning thread only.
#ifndef WBI_SETTINGS_H
#define WBI_SETTINGS_H

#include "common/random.h"
#include "wandb.h"

#define WBI_ERRMSG_BYTES 256

typedef enum {
    WBI_MODE_ONLINE = 0,   // ship to an aggregator / the backend
    WBI_MODE_OFFLINE = 1,  // the aggregator journals everything and contacts no backend
    WBI_MODE_DISABLED = 2, // every call is a cheap no-op
} wbi_mode_t;

typedef enum {
    WBI_RING_DROP = 0, // a full ring drops the call (WANDB_EFULL, counted)
    WBI_RING_WAIT = 1, // a full ring waits up to ring_wait_ms, then drops
} wbi_ring_policy_t;

// The resolved settings of one run. Strings are owned (NULL: unset).
typedef struct {
    char *project;               // never NULL after resolve ("uncategorized")
    char *entity;                // NULL: the backend's default entity
    char *api_key;               // NULL: none
    char *base_url;              // never NULL, no trailing '/'
    char *group;                 // NULL: none
    char *job_type;              // NULL: none
    char *name;                  // display name; "rank-<r>" under MPI
    char *notes;                 // NULL: none
    char *tags;                  // comma-separated, NULL: none
    char *run_id;                // never NULL (8 random [a-z0-9] by default)
    char *dir;                   // the journal's parent directory, never NULL ("wandb")
    char *resume;                // allow|must|never|auto or NULL
    char *aggregator;            // ZeroMQ endpoint; NULL: in-process aggregator
    char *secret;                // aggregator secret; NULL: none
    char *server_key;            // the aggregator's CURVE public key (Z85); NULL: none
    char *client_key;            // the job's CURVE client public key (Z85); NULL: none
    char *client_secret;         // the job's CURVE client secret key (Z85); NULL: none
    bool transport_plain;        // transport_security=plain: tcp/ipc without CURVE
    char *config_json;           // initial config object (compact JSON) or NULL
    char *ca_cert;               // PEM CA file for TLS to the backend; NULL: system CAs
    wbi_mode_t mode;             // online, offline, disabled
    int rank;                    // this process's rank (0 without MPI)
    int world_size;              // ranks in the job (1 without MPI)
    bool under_mpi;              // a launcher variable (or the rank setting) was found
    size_t ring_bytes;           // ring capacity requested
    wbi_ring_policy_t ring_full; // drop or wait
    int ring_wait_ms;            // longest wait of the wait policy
    int flush_interval_ms;       // backend file_stream interval (in-process aggregator)
    int heartbeat_ms;            // idle time before the I/O thread sends a heartbeat
    int init_timeout_ms;         // bound on waits in wandb_init
    int finish_timeout_ms;       // bound on wandb_finish
    int journal_flush_ms;        // journal flush (fsync) interval of the aggregator
    uint64_t journal_max_bytes;  // journal size cap
    int http2;                   // 0 auto, 1 prior-knowledge, 2 off (WBI_HTTP2_*)
    int request_budget;          // backend requests per second; 0: the backend's default
    bool no_job_run;             // job_run=false (in-process aggregator, docs/job-view.md)
    bool no_rank_runs;           // per_rank_runs=false
    int job_lateness_ms;         // wait for a slow rank's step
    int sysmon_interval_s;       // system metrics every N s (local rank 0 only); 0: off
    int local_rank;              // rank on this node (OMPI_COMM_WORLD_LOCAL_RANK, ...; 0)
    char *node_label;            // node label of system metrics; NULL: the host name
    int save_live_interval_ms;   // live files of wandb_save are looked at this often
    char *sweep_id;              // the sweep this run belongs to; NULL: none
    char *app_url;               // the W&B app (web UI) URL; NULL: derived from base_url
    struct json_t *view;         // every setting as text by name (wandb_run_setting), owned
} wbi_cfg_t;

// Merges settings (NULL: none), the environment and the defaults into *out.
// On error fills errmsg (errlen bytes) with a message naming the setting or
// variable and returns WANDB_EINVAL (or WANDB_ENOMEM); *out is then empty.
wandb_err wbi_settings_resolve(const wandb_settings_t *settings, wbi_cfg_t *out, char *errmsg,
                               size_t errlen);
// Checks value as the setting `name` would be checked by
// wandb_settings_set (the run setters reuse it). On false, why says why.
bool wbi_settings_check(const char *name, const char *value, char *why, size_t whylen);
// Frees the strings of a resolved config.
void wbi_cfg_release(wbi_cfg_t *self);
// Stores msg as the settings' last error (settings may be NULL).
void wbi_settings_set_errmsg(wandb_settings_t *settings, const char *msg);

#endif
