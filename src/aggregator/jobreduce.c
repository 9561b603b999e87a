//  jobreduce.c - what each key of the job run reduces to, and the accumulators
//  SPDX-License-Identifier: MIT
//
//  REDUCE declarations (rank 0's) say which reductions a metric or a glob of
//  metrics gets; a key without one gets the mean. Each waiting step keeps one
//  accumulator per key: count, Welford mean and M2, sum, min and max with the
//  lowest rank holding them.
#include "aggregator/jobview_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include <stdio.h>
#include <string.h>

// The words of a REDUCE list and the key suffixes, in R_* order.
static const char *const s_words[] = {"mean", "min", "max", "sum", "std", "argmin", "argmax"};
static const char *const s_suffix[] = {"",     "/min",      "/max",     "/sum",
                                       "/std", "/min_rank", "/max_rank"};

// Parses "mean,min,..." or "none" into flags; false on an unknown word.
bool wbi_jv_parse_reduce(const char *text, unsigned *out)
{
    unsigned flags = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (int r = 0; r < R_COUNT && !found; r++)
            if (strlen(s_words[r]) == n && strncmp(s_words[r], p, n) == 0) {
                flags |= 1u << r;
                found = true;
            }
        if (!found && n == 4 && strncmp(p, "none", 4) == 0) {
            flags |= R_NONE;
            found = true;
        }
        if (!found)
            return false;
        p = end ? end + 1 : p + n;
    }
    if (flags == 0 || ((flags & R_NONE) && flags != R_NONE))
        return false;
    *out = flags;
    return true;
}

// The reductions of a member key (cached per name id and declaration generation).
wbi_jv_kinfo_t *wbi_jv_kinfo(wbi_jv_job_t *job, const wbi_agg_name_t *nm)
{
    if (!wbi_jv_grow((void **)&job->kinfo, &job->nkinfo, (size_t)nm->id + 1,
                     sizeof(wbi_jv_kinfo_t)))
        return NULL;
    wbi_jv_kinfo_t *ki = &job->kinfo[nm->id];
    if (ki->gen == job->decl_gen)
        return ki;
    ki->gen = job->decl_gen;
    ki->flags = 1u << R_MEAN;
    for (size_t i = job->ndecls; i-- > 0;) { // the latest declaration wins
        const wbi_jv_decl_t *d = &job->decls[i];
        bool match = d->glob ? nm->len >= d->len && memcmp(nm->name, d->pattern, d->len) == 0
                             : nm->len == d->len && memcmp(nm->name, d->pattern, d->len) == 0;
        if (match) {
            ki->flags = d->flags & R_NONE ? 0 : d->flags;
            break;
        }
    }
    return ki;
}

// The job-run key of reduction r of a member key; NULL when out of memory.
const char *wbi_jv_derived_key(wbi_jv_kinfo_t *ki, const wbi_agg_name_t *nm, int r)
{
    if (!ki->keys[r]) {
        size_t n = nm->len + strlen(s_suffix[r]) + 1;
        ki->keys[r] = wbi_malloc(n);
        if (ki->keys[r])
            snprintf(ki->keys[r], n, "%s%s", nm->name, s_suffix[r]);
    }
    return ki->keys[r];
}

// Adds one member value to a waiting step.
void wbi_jv_accumulate(wbi_jv_pend_t *pd, uint32_t name_id, double d, int rank)
{
    uint32_t slot = wbi_imap_get(&pd->slots, name_id);
    if (slot == WBI_MAP_NONE) {
        if (!wbi_jv_grow((void **)&pd->acc, &pd->acc_cap, pd->nacc + 1, sizeof(wbi_jv_acc_t)) ||
            wbi_imap_put(&pd->slots, name_id, (uint32_t)pd->nacc) != WANDB_OK)
            return;
        slot = (uint32_t)pd->nacc++;
        pd->acc[slot].name_id = name_id;
    }
    wbi_jv_acc_t *ac = &pd->acc[slot];
    ac->n++;
    double delta = d - ac->mean;
    ac->mean += delta / ac->n;
    ac->m2 += delta * (d - ac->mean);
    ac->sum += d;
    if (ac->n == 1 || d < ac->min || (d == ac->min && rank < ac->min_rank)) {
        ac->min = d;
        ac->min_rank = rank;
    }
    if (ac->n == 1 || d > ac->max || (d == ac->max && rank < ac->max_rank)) {
        ac->max = d;
        ac->max_rank = rank;
    }
}

wandb_err wbi_jobview_reduce(wbi_jobview_member_t *m, const char *json, size_t len)
{
    wbi_jv_job_t *job = m->job;
    json_error_t jerr;
    json_t *o = wbi_jsonx_loadb(json, len, 0, &jerr);
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *reduce = json_string_value(json_object_get(o, "reduce"));
    unsigned flags;
    wandb_err rc = WANDB_EPROTO;
    if (!name || !name[0] || !reduce || !wbi_jv_parse_reduce(reduce, &flags))
        goto out;
    rc = WANDB_OK;
    bool has_rank0 = false;
    for (size_t i = 0; i < job->nmembers; i++)
        has_rank0 |= job->members[i]->rank == 0;
    if (m->rank != 0 && has_rank0)
        goto out; // rank 0 speaks for the job
    rc = WANDB_ENOMEM;
    if (!wbi_jv_grow((void **)&job->decls, &job->decls_cap, job->ndecls + 1, sizeof(wbi_jv_decl_t)))
        goto out;
    size_t n = strlen(name);
    wbi_jv_decl_t d = {.glob = n > 0 && name[n - 1] == '*', .flags = flags};
    d.len = d.glob ? n - 1 : n;
    d.pattern = wbi_strdup(name);
    if (!d.pattern)
        goto out;
    job->decls[job->ndecls++] = d;
    if (++job->decl_gen == 0)
        job->decl_gen = 1;
    rc = WANDB_OK;
out:
    json_decref(o);
    return rc;
}
