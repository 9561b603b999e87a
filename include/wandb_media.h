/*  wandb_media.h - media beyond scalars: histograms, images, tables, watch
 *  SPDX-License-Identifier: MIT
 *
 *  The official client's wandb.Histogram, wandb.Image, wandb.Table and
 *  Run.watch/unwatch, encoded as it encodes them (docs/media.md): a history
 *  value that is a JSON object with "_type" ("histogram", "image-file",
 *  "images/separated", "table-file"), and for images and tables a file under
 *  media/ uploaded with the run's files. Included by wandb.h; may be
 *  included alone.
 *
 *  Objects (wandb_histogram_t, wandb_image_t, wandb_table_t) are made by
 *  the calling thread and own copies of what they were given; one thread at
 *  a time may use an object. None of these calls is for the hot path: they
 *  allocate, and the wandb_log_* calls of images and tables hash and send a
 *  file through the ring.
 */
#ifndef WANDB_MEDIA_H_INCLUDED
#define WANDB_MEDIA_H_INCLUDED

#include "wandb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wandb_histogram wandb_histogram_t;
typedef struct wandb_image wandb_image_t;
typedef struct wandb_table wandb_table_t;

// Element type of a numeric buffer.
typedef enum {
    WANDB_DTYPE_FLOAT64 = 1, // double
    WANDB_DTYPE_FLOAT32 = 2, // float
} wandb_dtype;

// ---------------------------------------------------------------------------
// Histograms: wandb.Histogram. The history value is
// {"_type":"histogram","values":[counts],"bins":[edges]} with
// len(bins) == len(values) + 1.

#define WANDB_HISTOGRAM_DEFAULT_BINS 64 // num_bins when 0 is given
#define WANDB_HISTOGRAM_MAX_BINS 512    // wandb.Histogram.MAX_LENGTH

// Bins data[0..n) as wandb.Histogram(sequence, num_bins) does
// (numpy.histogram): num_bins equal bins from the minimum to the maximum
// (min - 0.5 .. max + 0.5 when all values are equal, 0 .. 1 when there are
// none), the last bin closed; float data is binned in float arithmetic, as
// numpy bins a float32 array. NaN and +-Infinity cannot be binned: they are
// left out and counted (wandb_histogram_nonfinite); the official client
// raises an error instead. num_bins: 1..512, 0 for 64. Returns a new
// histogram in *out; destroy it with wandb_histogram_destroy().
// WANDB_EINVAL (data NULL with n > 0, num_bins out of range), WANDB_ENOMEM.
// Thread: any.
WANDB_EXPORT wandb_err wandb_histogram_new(wandb_histogram_t **out, const void *data,
                                           wandb_dtype dtype, size_t n, int num_bins);

// Bins data[0..n) into the given bins, as numpy.histogram(data, bins=edges):
// edges[0..nedges) non-decreasing and finite, nedges - 1 bins (1..512), each
// [e_i, e_i+1) and the last one closed; values outside (and NaN) are not
// counted (the non-finite ones are counted by wandb_histogram_nonfinite).
// WANDB_EINVAL, WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_histogram_new_edges(wandb_histogram_t **out, const void *data,
                                                 wandb_dtype dtype, size_t n, const double *edges,
                                                 size_t nedges);

// A histogram from counts already made, as wandb.Histogram(np_histogram=
// (counts, edges)): counts[0..nbins) finite and >= 0, edges[0..nbins] finite
// and non-decreasing, nbins 1..512. WANDB_EINVAL, WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_histogram_from_counts(wandb_histogram_t **out, const double *counts,
                                                   const double *edges, size_t nbins);

// Destroys *self_p and sets it to NULL; NULL-safe.
WANDB_EXPORT void wandb_histogram_destroy(wandb_histogram_t **self_p);

// Number of bins; the count of bin i; edge i (0..bins); values left out for
// being NaN or infinite. Out-of-range i gives NaN.
WANDB_EXPORT size_t wandb_histogram_bins(const wandb_histogram_t *self);
WANDB_EXPORT double wandb_histogram_count(const wandb_histogram_t *self, size_t i);
WANDB_EXPORT double wandb_histogram_edge(const wandb_histogram_t *self, size_t i);
WANDB_EXPORT uint64_t wandb_histogram_nonfinite(const wandb_histogram_t *self);

// The history value of the histogram, as JSON text. Borrowed: valid until
// self is destroyed. NULL when self is NULL.
WANDB_EXPORT const char *wandb_histogram_json(const wandb_histogram_t *self);

// A wandb_value_t for wandb_log and friends, e.g.
//   wandb_log(run, WANDB_DOUBLE("loss", l), WANDB_HISTOGRAM("grads", h));
#define WANDB_HISTOGRAM(k, h) WANDB_JSON((k), wandb_histogram_json(h))

// Logs n histograms (1..256) under one key as the list of their objects, as
// the official client logs a list of wandb.Histogram (rules of
// wandb_log_values). Thread: any.
WANDB_EXPORT wandb_err wandb_log_histograms(wandb_run_t *run, const char *key,
                                            const wandb_histogram_t *const *hists, size_t n,
                                            int64_t step, int commit);

// ---------------------------------------------------------------------------
// Images: wandb.Image. Logged, an image becomes the file
// media/images/<key>_<step>_<sha256[:20]>.png of the run and the history
// value {"_type":"image-file","path":...,"sha256":...,"size":...,
// "format":"png","width":...,"height":...[,"caption":...]}.

// An image from 8-bit pixels: width x height, `channels` samples per pixel
// (1 grey, 3 RGB, 4 RGBA), rows top to bottom, packed (stride width *
// channels). Encoded as PNG now (filtered rows, fixed-Huffman deflate), so the
// pixels may change after the call. At most 64 MiB of PNG. Returns a new
// image in *out; destroy it with wandb_image_destroy(). WANDB_EINVAL,
// WANDB_ETOOBIG, WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_image_new(wandb_image_t **out, const uint8_t *pixels, int width,
                                       int height, int channels);

// An image from a PNG file, read now and sent as it is (its bytes are the
// run's file). WANDB_ENOTFOUND, WANDB_EIO (not a readable regular file),
// WANDB_EINVAL (not a PNG: bad signature or IHDR), WANDB_ETOOBIG (over
// 64 MiB), WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_image_new_png_file(wandb_image_t **out, const char *path);

// Sets (copies) the caption; NULL removes it. WANDB_EINVAL for invalid UTF-8.
WANDB_EXPORT wandb_err wandb_image_set_caption(wandb_image_t *self, const char *caption);

WANDB_EXPORT int wandb_image_width(const wandb_image_t *self);
WANDB_EXPORT int wandb_image_height(const wandb_image_t *self);

// Destroys *self_p and sets it to NULL; NULL-safe.
WANDB_EXPORT void wandb_image_destroy(wandb_image_t **self_p);

// Logs one image under key, as wandb_log_values(run, {key: image}, step,
// commit) (same step and commit rules). The step in the file name is the
// row's step: the given one, or wandb_run_step(run) for WANDB_STEP_AUTO.
// The file travels through the ring like a wandb_save(..., WANDB_SAVE_NOW)
// file; the image may be destroyed after the call. Errors of
// wandb_log_values, of wandb_save, and WANDB_EINVAL for a key that gives no
// valid file name. Thread: any.
WANDB_EXPORT wandb_err wandb_log_image(wandb_run_t *run, const char *key,
                                       const wandb_image_t *image, int64_t step, int commit);

// Logs n images (1..256) under one key, as the official client logs a list
// of wandb.Image: each becomes a file (named <key>_<step>_<sha256[:20]>.png)
// and the history value is {"_type":"images/separated","width","height",
// "format":"png","count":n,"filenames":[...][,"captions":[...]]} with the
// size of the first image. Thread: any.
WANDB_EXPORT wandb_err wandb_log_images(wandb_run_t *run, const char *key,
                                        const wandb_image_t *const *images, size_t n, int64_t step,
                                        int commit);

// ---------------------------------------------------------------------------
// Tables: wandb.Table. Logged, a table becomes the file
// media/table/<key>_<step>_<sha256[:20]>.table.json ({"columns": [...],
// "data": [[...], ...]}) and the history value {"_type":"table-file",
// "path","sha256","size","ncols","nrows","log_mode":"IMMUTABLE"}. The
// official client also logs the table as a run_table artifact; this one
// does not (docs/media.md).

#define WANDB_TABLE_MAX_ROWS 10000 // rows in a table file (wandb.Table.MAX_ROWS)
#define WANDB_TABLE_MAX_COLS 1024  // columns

// A table with ncols (1..1024) named columns (copied; UTF-8, unique).
// Returns a new table in *out; destroy it with wandb_table_destroy().
// WANDB_EINVAL, WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_table_new(wandb_table_t **out, const char *const *columns,
                                       size_t ncols);

// Appends one row of n == ncols cells (the key of each is ignored): numbers
// (WANDB_TYPE_DOUBLE, NaN and infinities kept; WANDB_TYPE_INT), booleans,
// strings, and WANDB_TYPE_JSON for any JSON value (null, lists, objects).
// WANDB_EINVAL (wrong count, invalid UTF-8 or JSON; the row is not added),
// WANDB_EFULL (WANDB_TABLE_MAX_ROWS rows already), WANDB_ETOOBIG (the table
// file would pass 64 MiB), WANDB_ENOMEM. Thread: the table's.
WANDB_EXPORT wandb_err wandb_table_add_row(wandb_table_t *self, const wandb_value_t *cells,
                                           size_t n);
#define wandb_table_row(t, ...)                                                                    \
    wandb_table_add_row((t), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__))
#define WANDB_CELL_DOUBLE(v) WANDB_DOUBLE(NULL, (v))
#define WANDB_CELL_INT(v) WANDB_INT(NULL, (v))
#define WANDB_CELL_BOOL(v) WANDB_BOOL(NULL, (v))
#define WANDB_CELL_STRING(v) WANDB_STRING(NULL, (v))
#define WANDB_CELL_NULL WANDB_JSON(NULL, "null")

WANDB_EXPORT size_t wandb_table_nrows(const wandb_table_t *self);
WANDB_EXPORT size_t wandb_table_ncols(const wandb_table_t *self);

// Destroys *self_p and sets it to NULL; NULL-safe.
WANDB_EXPORT void wandb_table_destroy(wandb_table_t **self_p);

// Logs the table under key (rules of wandb_log_image). Thread: any.
WANDB_EXPORT wandb_err wandb_log_table(wandb_run_t *run, const char *key,
                                       const wandb_table_t *table, int64_t step, int commit);

// Logs n tables (1..256) under one key, as the official client logs a list
// of wandb.Table: each becomes its file, the history value is the list of
// their "table-file" objects. Thread: any.
WANDB_EXPORT wandb_err wandb_log_tables(wandb_run_t *run, const char *key,
                                        const wandb_table_t *const *tables, size_t n, int64_t step,
                                        int commit);

// ---------------------------------------------------------------------------
// Watch: Run.watch / Run.unwatch for named numeric buffers.

typedef enum {
    WANDB_WATCH_GRADIENTS = 1,  // log "gradients/<name>" (the official default)
    WANDB_WATCH_PARAMETERS = 2, // log "parameters/<name>"
    WANDB_WATCH_ALL = 3,        // both
} wandb_watch_log;

#define WANDB_WATCH_DEFAULT_FREQ 1000 // log_freq when 0 is given (the official default)
#define WANDB_WATCH_MAX 256           // buffers watched per run

// Watches the buffers of `name`: params and grads point to n elements of
// dtype (either may be NULL when `log` does not need it). They are
// borrowed: they must stay valid until wandb_unwatch or wandb_finish, and
// are read by the thread that calls wandb_log_values, inside that call.
// Every log_freq-th step (a wandb_log call whose step differs from the
// previous call's), before the row's values, the histograms of the watched
// buffers join that row as "gradients/<name>" and "parameters/<name>",
// with the official watch's rules: NaN and infinities left out, nothing
// logged when no value is finite, one bin [v, v] when all values are equal,
// else 64 bins from the minimum to the maximum. Cost: O(n) on those steps,
// a comparison on the others. Watching a name again replaces it.
// WANDB_EINVAL (bad name, dtype, log or log_freq < 0, a needed buffer
// NULL), WANDB_EFULL (WANDB_WATCH_MAX names), WANDB_ENOMEM. Thread: any.
WANDB_EXPORT wandb_err wandb_watch(wandb_run_t *run, const char *name, wandb_dtype dtype,
                                   const void *params, const void *grads, size_t n,
                                   wandb_watch_log log, int log_freq);

// Stops watching name (NULL: every name). WANDB_ENOTFOUND when name is not
// watched. Thread: any.
WANDB_EXPORT wandb_err wandb_unwatch(wandb_run_t *run, const char *name);

#ifdef __cplusplus
}
#endif
#endif
