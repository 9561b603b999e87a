//  artname.h - the naming rules of artifacts, shared by the ranks and the aggregator
//  SPDX-License-Identifier: MIT
//
//  One rule set (docs/artifacts.md, "From the ranks"): artifact and
//  portfolio names are 1..128 bytes of [A-Za-z0-9_-.]; types and aliases
//  1..128 bytes without '/' or ':' (types not starting with "wandb-", which
//  W&B reserves); tags as W&B's TAG_REGEX ^[-\w]+( +[-\w]+)*$; references
//  start with s3://, gs://, https://, http:// or file://. Every check
//  writes why it failed into why[0..n) (lower-case, no period).
//  Thread: any (no state).
#ifndef WBI_ARTNAME_H
#define WBI_ARTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define WBI_ART_NAME_MAX 128 // bytes in a name, type, alias or tag
#define WBI_ART_WHY 256      // room for a reason

bool wbi_art_name_ok(const char *name, char *why, size_t n);
bool wbi_art_type_ok(const char *type, char *why, size_t n);
bool wbi_art_alias_ok(const char *alias, char *why, size_t n);
bool wbi_art_tag_ok(const char *tag, char *why, size_t n);
bool wbi_art_ref_ok(const char *uri, char *why, size_t n);

// An artifact named for use: [[entity/]project/]name[:version or alias].
typedef struct {
    char entity[WBI_ART_NAME_MAX + 1];  // "" when not given
    char project[WBI_ART_NAME_MAX + 1]; // "" when not given
    char name[WBI_ART_NAME_MAX + 1];    // always set
    char alias[WBI_ART_NAME_MAX + 1];   // "latest" when not given; "v3" for a version
} wbi_art_ref_t;

// Parses what wandb_use_artifact takes: "name", "name:alias", "name:vN",
// "project/name:alias" or "entity/project/name:alias".
bool wbi_art_use_parse(const char *spec, wbi_art_ref_t *out, char *why, size_t n);
// Parses a link target: "portfolio", "project/portfolio" or
// "entity/project/portfolio" (no ':' anywhere); alias is left "".
bool wbi_art_target_parse(const char *spec, wbi_art_ref_t *out, char *why, size_t n);

#endif
