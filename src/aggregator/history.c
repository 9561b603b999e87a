//  history.c - typed values and their W&B extended-JSON text
//  SPDX-License-Identifier: MIT
#include "aggregator/history.h"
#include "common/jsonx.h"

wandb_err wbi_hist_put_value(wbi_buf_t *out, const wbi_hval_t *v, const char *arena)
{
    switch (v->type) {
    case WANDB_TYPE_DOUBLE:
        return wbi_jsonx_put_double(out, v->as.d);
    case WANDB_TYPE_INT:
        return wbi_jsonx_put_int(out, v->as.i);
    case WANDB_TYPE_BOOL:
        return v->as.b ? wbi_buf_append(out, "true", 4) : wbi_buf_append(out, "false", 5);
    case WANDB_TYPE_STRING:
        return wbi_jsonx_put_string(out, arena + v->as.off, v->len);
    case WANDB_TYPE_JSON:
        return wbi_buf_append(out, arena + v->as.off, v->len);
    default:
        return wbi_buf_append(out, "null", 4);
    }
}

wandb_err wbi_hist_put_special(wbi_buf_t *out, int64_t step, double runtime, double ts)
{
    wandb_err rc = wbi_buf_append(out, "\"_step\":", 8);
    if (rc == WANDB_OK)
        rc = wbi_jsonx_put_int(out, step);
    if (rc == WANDB_OK)
        rc = wbi_buf_append(out, ",\"_runtime\":", 12);
    if (rc == WANDB_OK)
        rc = wbi_jsonx_put_double(out, runtime);
    if (rc == WANDB_OK)
        rc = wbi_buf_append(out, ",\"_timestamp\":", 14);
    if (rc == WANDB_OK)
        rc = wbi_jsonx_put_double(out, ts);
    return rc;
}

wandb_err wbi_hist_put_key(wbi_buf_t *out, const char *key, size_t len)
{
    wandb_err rc = wbi_jsonx_put_string(out, key, len);
    return rc == WANDB_OK ? wbi_buf_putc(out, ':') : rc;
}

wandb_err wbi_agg_row_encode(const wbi_agg_row_t *row, wbi_buf_t *out)
{
    wbi_buf_reset(out);
    wandb_err rc = wbi_buf_putc(out, '{');
    for (size_t i = 0; i < row->n && rc == WANDB_OK; i++) {
        rc = wbi_buf_append(out, row->names[i]->prefix, row->names[i]->prefix_len);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(out, &row->vals[i], row->arena);
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(out, ',');
    }
    if (rc == WANDB_OK)
        rc = wbi_hist_put_special(out, row->step, row->runtime, row->ts);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '}');
    return rc;
}

bool wbi_hval_number(const wbi_hval_t *v, double *out)
{
    switch (v->type) {
    case WANDB_TYPE_DOUBLE:
        *out = v->as.d;
        return true;
    case WANDB_TYPE_INT:
        *out = (double)v->as.i;
        return true;
    case WANDB_TYPE_BOOL:
        *out = v->as.b ? 1.0 : 0.0;
        return true;
    default:
        return false;
    }
}
