//  media_hist.c - histograms: wandb.Histogram and the official watch's binning
//  SPDX-License-Identifier: MIT
//
//  Binning follows numpy.histogram, which wandb.Histogram calls: equal bins
//  whose edges are linspace(first, last, bins + 1) (edge i = first + i *
//  step, the last one exactly `last`), a value's bin found by arithmetic and
//  then corrected against the edges, the last bin closed. Given edges, a
//  value goes to the last bin whose lower edge is <= it. The history value
//  is built once, when the histogram is made. Thread: the object's.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/wire.h"
#include <math.h>
#include <string.h>

#define S_JSON_MAX ((size_t)1 << 20) // a history value of 512 bins is far below

struct wandb_histogram {
    size_t nbins;       // bins, 1..WANDB_HISTOGRAM_MAX_BINS
    double *counts;     // nbins counts
    double *edges;      // nbins + 1 edges
    uint64_t nonfinite; // values left out for being NaN or infinite
    char *json;         // the history value
};

// Element i of a buffer of dtype.
static inline double s_at(const void *data, wandb_dtype dtype, size_t i)
{
    return dtype == WANDB_DTYPE_FLOAT32 ? (double)((const float *)data)[i]
                                        : ((const double *)data)[i];
}

// Appends a count: an integer when it is one (as numpy's counts are).
static wandb_err s_put_count(wbi_buf_t *b, double c)
{
    if (c == floor(c) && fabs(c) < 9007199254740992.0)
        return wbi_jsonx_put_int(b, (int64_t)c);
    return wbi_jsonx_put_double(b, c);
}

// Builds the history value {"_type":"histogram","values":[...],"bins":[...]}.
static char *s_json(const double *counts, const double *edges, size_t nbins)
{
    wbi_buf_t b;
    wbi_buf_init(&b, S_JSON_MAX);
    wandb_err e = wbi_buf_puts(&b, "{\"_type\":\"histogram\",\"values\":[");
    for (size_t i = 0; e == WANDB_OK && i < nbins; i++) {
        if (i)
            e = wbi_buf_putc(&b, ',');
        if (e == WANDB_OK)
            e = s_put_count(&b, counts[i]);
    }
    if (e == WANDB_OK)
        e = wbi_buf_puts(&b, "],\"bins\":[");
    for (size_t i = 0; e == WANDB_OK && i <= nbins; i++) {
        if (i)
            e = wbi_buf_putc(&b, ',');
        if (e == WANDB_OK)
            e = wbi_jsonx_put_double(&b, edges[i]);
    }
    if (e == WANDB_OK)
        e = wbi_buf_puts(&b, "]}");
    if (e != WANDB_OK) {
        wbi_buf_release(&b);
        return NULL;
    }
    return wbi_buf_steal(&b);
}

// Allocates a histogram of nbins zero counts.
static wandb_histogram_t *s_alloc(size_t nbins)
{
    wandb_histogram_t *h = wbi_calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->nbins = nbins;
    h->counts = wbi_calloc(nbins, sizeof(double));
    h->edges = wbi_calloc(nbins + 1, sizeof(double));
    if (!h->counts || !h->edges)
        wandb_histogram_destroy(&h);
    return h;
}

// Finishes h: builds its JSON, or destroys it. WANDB_OK or WANDB_ENOMEM.
static wandb_err s_finish(wandb_histogram_t **h, wandb_histogram_t **out)
{
    (*h)->json = s_json((*h)->counts, (*h)->edges, (*h)->nbins);
    if (!(*h)->json) {
        wandb_histogram_destroy(h);
        return WANDB_ENOMEM;
    }
    *out = *h;
    *h = NULL;
    return WANDB_OK;
}

// numpy.linspace(first, last, nbins + 1) into edges.
static void s_linspace(double *edges, size_t nbins, double first, double last)
{
    double step = (last - first) / (double)nbins;
    for (size_t i = 0; i < nbins; i++)
        edges[i] = (double)i * step + first;
    edges[nbins] = last;
}

// Counts x into equal bins over [edges[0], edges[nbins]] as numpy does: the
// bin by arithmetic, then one step down when x is below its lower edge and
// one step up when it reaches the upper edge (except in the last bin).
static void s_count_equal(double *counts, const double *edges, size_t nbins, double x)
{
    double first = edges[0], last = edges[nbins];
    if (!(x >= first && x <= last))
        return;
    double f = ((x - first) / (last - first)) * (double)nbins;
    size_t i = f >= (double)nbins ? nbins - 1 : (size_t)f;
    if (x < edges[i] && i > 0)
        i--;
    if (x >= edges[i + 1] && i != nbins - 1)
        i++;
    counts[i] += 1;
}

// The same for float data, in float arithmetic as numpy bins a float32
// array: edges linspace'd in float32 (edge i = i * step + first), the bin by
// float arithmetic, corrected against the float edges.
static void s_hist_f32(wandb_histogram_t *h, const float *data, size_t n)
{
    size_t nbins = h->nbins;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(data[i])) {
            h->nonfinite++;
            continue;
        }
        lo = data[i] < lo ? data[i] : lo;
        hi = data[i] > hi ? data[i] : hi;
    }
    if (lo > hi)
        lo = 0.0f, hi = 1.0f; // numpy's range for no values
    else if (lo == hi)
        lo -= 0.5f, hi += 0.5f;
    float step = (hi - lo) / (float)nbins;
    for (size_t i = 0; i < nbins; i++)
        h->edges[i] = (double)((float)i * step + lo);
    h->edges[nbins] = (double)hi;
    float denom = hi - lo;
    for (size_t k = 0; k < n; k++) {
        float x = data[k];
        if (!(x >= lo && x <= hi))
            continue;
        float f = ((x - lo) / denom) * (float)nbins;
        size_t i = f >= (float)nbins ? nbins - 1 : (size_t)f;
        if ((double)x < h->edges[i] && i > 0)
            i--;
        if ((double)x >= h->edges[i + 1] && i != nbins - 1)
            i++;
        h->counts[i] += 1;
    }
}

// Counts x into the bins of edges (the last bin closed); values outside are
// not counted.
static void s_count_edges(double *counts, const double *edges, size_t nbins, double x)
{
    if (!(x >= edges[0] && x <= edges[nbins]))
        return;
    // The last edge index lo with edges[lo] <= x.
    size_t lo = 0, hi = nbins + 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (edges[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    counts[lo == nbins ? nbins - 1 : lo] += 1;
}

// Checks a data buffer's arguments.
static bool s_data_ok(const void *data, wandb_dtype dtype, size_t n)
{
    return (data || n == 0) && (dtype == WANDB_DTYPE_FLOAT64 || dtype == WANDB_DTYPE_FLOAT32);
}

wandb_err wandb_histogram_new(wandb_histogram_t **out, const void *data, wandb_dtype dtype,
                              size_t n, int num_bins)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (num_bins == 0)
        num_bins = WANDB_HISTOGRAM_DEFAULT_BINS;
    if (!s_data_ok(data, dtype, n) || num_bins < 1 || num_bins > WANDB_HISTOGRAM_MAX_BINS)
        return WANDB_EINVAL;
    size_t nbins = (size_t)num_bins;
    wandb_histogram_t *h = s_alloc(nbins);
    if (!h)
        return WANDB_ENOMEM;
    if (dtype == WANDB_DTYPE_FLOAT32) {
        s_hist_f32(h, data, n);
        return s_finish(&h, out);
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = s_at(data, dtype, i);
        if (!isfinite(x)) {
            h->nonfinite++;
            continue;
        }
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (lo > hi)
        lo = 0, hi = 1; // numpy's range for no values
    else if (lo == hi)
        lo -= 0.5, hi += 0.5;
    s_linspace(h->edges, nbins, lo, hi);
    for (size_t i = 0; i < n; i++)
        s_count_equal(h->counts, h->edges, nbins, s_at(data, dtype, i));
    return s_finish(&h, out);
}

// Checks nedges edges: 2..MAX+1 of them, finite, non-decreasing.
static bool s_edges_ok(const double *edges, size_t nedges)
{
    if (!edges || nedges < 2 || nedges > WANDB_HISTOGRAM_MAX_BINS + 1)
        return false;
    for (size_t i = 0; i < nedges; i++)
        if (!isfinite(edges[i]) || (i > 0 && edges[i] < edges[i - 1]))
            return false;
    return true;
}

wandb_err wandb_histogram_new_edges(wandb_histogram_t **out, const void *data, wandb_dtype dtype,
                                    size_t n, const double *edges, size_t nedges)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!s_data_ok(data, dtype, n) || !s_edges_ok(edges, nedges))
        return WANDB_EINVAL;
    wandb_histogram_t *h = s_alloc(nedges - 1);
    if (!h)
        return WANDB_ENOMEM;
    memcpy(h->edges, edges, nedges * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double x = s_at(data, dtype, i);
        if (!isfinite(x))
            h->nonfinite++;
        else
            s_count_edges(h->counts, h->edges, h->nbins, x);
    }
    return s_finish(&h, out);
}

wandb_err wandb_histogram_from_counts(wandb_histogram_t **out, const double *counts,
                                      const double *edges, size_t nbins)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!counts || !s_edges_ok(edges, nbins + 1))
        return WANDB_EINVAL;
    for (size_t i = 0; i < nbins; i++)
        if (!isfinite(counts[i]) || counts[i] < 0)
            return WANDB_EINVAL;
    wandb_histogram_t *h = s_alloc(nbins);
    if (!h)
        return WANDB_ENOMEM;
    memcpy(h->counts, counts, nbins * sizeof(double));
    memcpy(h->edges, edges, (nbins + 1) * sizeof(double));
    return s_finish(&h, out);
}

void wandb_histogram_destroy(wandb_histogram_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wandb_histogram_t *h = *self_p;
    wbi_free(h->counts);
    wbi_free(h->edges);
    wbi_free(h->json);
    wbi_free(h);
    *self_p = NULL;
}

size_t wandb_histogram_bins(const wandb_histogram_t *self)
{
    return self ? self->nbins : 0;
}

double wandb_histogram_count(const wandb_histogram_t *self, size_t i)
{
    return self && i < self->nbins ? self->counts[i] : NAN;
}

double wandb_histogram_edge(const wandb_histogram_t *self, size_t i)
{
    return self && i <= self->nbins ? self->edges[i] : NAN;
}

uint64_t wandb_histogram_nonfinite(const wandb_histogram_t *self)
{
    return self ? self->nonfinite : 0;
}

const char *wandb_histogram_json(const wandb_histogram_t *self)
{
    return self ? self->json : NULL;
}

wandb_err wbi_hist_watch_json(const void *data, wandb_dtype dtype, size_t n, int bins, char **json)
{
    *json = NULL;
    double lo = INFINITY, hi = -INFINITY;
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) {
        double x = s_at(data, dtype, i);
        if (!isfinite(x))
            continue;
        finite++;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (finite == 0)
        return WANDB_OK; // the official watch logs nothing then
    if (lo == hi) {
        double count = (double)finite;
        double edges[2] = {lo, hi};
        *json = s_json(&count, edges, 1);
        return *json ? WANDB_OK : WANDB_ENOMEM;
    }
    size_t nbins = (size_t)bins;
    double *counts = wbi_calloc(2 * nbins + 1, sizeof(double));
    if (!counts)
        return WANDB_ENOMEM;
    double *edges = counts + nbins;
    s_linspace(edges, nbins, lo, hi);
    for (size_t i = 0; i < n; i++)
        s_count_equal(counts, edges, nbins, s_at(data, dtype, i)); // NaN/inf fall outside
    *json = s_json(counts, edges, nbins);
    wbi_free(counts);
    return *json ? WANDB_OK : WANDB_ENOMEM;
}

wandb_err wandb_log_histograms(wandb_run_t *run, const char *key,
                               const wandb_histogram_t *const *hists, size_t n, int64_t step,
                               int commit)
{
    if (!run || !key || !hists || n == 0 || n > WBI_MEDIA_LIST_MAX)
        return WANDB_EINVAL;
    wbi_buf_t b;
    wbi_buf_init(&b, WBI_WIRE_VALUE_MAX);
    wandb_err e = wbi_buf_putc(&b, '[');
    for (size_t i = 0; e == WANDB_OK && i < n; i++) {
        if (!hists[i])
            e = WANDB_EINVAL;
        if (e == WANDB_OK && i)
            e = wbi_buf_putc(&b, ',');
        if (e == WANDB_OK)
            e = wbi_buf_puts(&b, hists[i]->json);
    }
    if (e == WANDB_OK)
        e = wbi_buf_append(&b, "]", 2); // with the NUL
    if (e == WANDB_OK)
        e = wbi_media_log_json(run, key, b.data, step, commit);
    wbi_buf_release(&b);
    return e;
}
