//  runjson.h - run config normalization and the JSON shapes of the read API
//  SPDX-License-Identifier: MIT
//
//  W&B clients send the run config in three encodings: wrapped
//  {"k":{"value":v}} (wandb-core), legacy {"k":{"desc":null,"value":v}}
//  (old Python sender) and raw {"k":v} (JS client). The store keeps it
//  unwrapped; resume answers wrap it again. The read API (server) and the
//  CLI build their run and row objects here so both print the same thing.
//  Thread: any (no state).
#ifndef WBI_RUNJSON_H
#define WBI_RUNJSON_H

#include "store/store.h"
#include <jansson.h>

// True when every top-level value of the non-empty object is wrapped
// ({"value": v} or {"desc": d, "value": v}).
bool wbi_runcfg_is_wrapped(const json_t *config);
// Returns a new unwrapped copy of config (a new reference, NULL on OOM or
// when config is not an object).
json_t *wbi_runcfg_unwrap(const json_t *config);
// Returns a new copy with every top-level value wrapped as {"value": v}.
json_t *wbi_runcfg_wrap(const json_t *config);
// Parses a config JSONString (extended JSON) in any encoding into a new
// unwrapped object. WANDB_EPROTO with a message in err when the text is not
// a JSON object (line/column given).
wandb_err wbi_runcfg_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);

// The run object of GET /api/v1/runs and `wandb-mpi runs --json`.
json_t *wbi_run_to_json(const wbi_run_t *run);
// A stored line as a JSON value: the parsed object, or the raw text as a
// string when it does not parse (never NULL except on OOM).
json_t *wbi_line_to_json(const char *text, size_t len);

#endif
