//  media_image.c - images (wandb.Image): PNG bytes, their digest, logging
//  SPDX-License-Identifier: MIT
//
//  An image holds its PNG bytes (encoded from pixels by media_png.c, or
//  read from a file), their SHA-256 and its size. Logging one sends the
//  bytes as media/images/<key>_<step>_<sha256[:20]>.png and logs the
//  "image-file" object; a list logs "images/separated" as the official
//  client does (wandb/sdk/data_types/image.py). Thread: the object's.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "logger/media_png.h"
#include "logger/media_sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wandb_image {
    uint8_t *png;    // the PNG file's bytes
    size_t len;      // their length
    uint32_t width;  // pixels
    uint32_t height; // pixels
    char sha256[65]; // hex digest of png
    char *caption;   // NULL: none
};

// Makes an image that owns png (freed on failure too).
static wandb_err s_image(wandb_image_t **out, uint8_t *png, size_t len, uint32_t w, uint32_t h)
{
    wandb_image_t *img = wbi_calloc(1, sizeof(*img));
    if (!img) {
        wbi_free(png);
        return WANDB_ENOMEM;
    }
    img->png = png;
    img->len = len;
    img->width = w;
    img->height = h;
    wbi_sha256_hex(png, len, img->sha256);
    *out = img;
    return WANDB_OK;
}

wandb_err wandb_image_new(wandb_image_t **out, const uint8_t *pixels, int width, int height,
                          int channels)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!pixels || width <= 0 || height <= 0) {
        wbi_warn("wandb_image_new: %dx%d pixels at %p: need a buffer and a positive size", width,
                 height, (const void *)pixels);
        return WANDB_EINVAL;
    }
    uint8_t *png = NULL;
    size_t len = 0;
    wandb_err rc = wbi_png_encode(pixels, (uint32_t)width, (uint32_t)height, channels, &png, &len);
    if (rc != WANDB_OK) {
        wbi_warn("wandb_image_new: %dx%d with %d channels not encoded: %s", width, height, channels,
                 wandb_strerror(rc));
        return rc;
    }
    return s_image(out, png, len, (uint32_t)width, (uint32_t)height);
}

// Reads a regular file of at most WBI_MEDIA_FILE_MAX bytes.
static wandb_err s_read(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO;
    struct stat st;
    wandb_err rc = WANDB_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out_close;
    rc = WANDB_ETOOBIG;
    if ((uint64_t)st.st_size > WBI_MEDIA_FILE_MAX)
        goto out_close;
    rc = WANDB_ENOMEM;
    size_t cap = (size_t)st.st_size;
    uint8_t *data = wbi_malloc(cap ? cap : 1);
    if (!data)
        goto out_close;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, data + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != cap) {
        wbi_free(data);
        rc = WANDB_EIO;
        goto out_close;
    }
    *out = data;
    *len = got;
    rc = WANDB_OK;
out_close:
    close(fd);
    return rc;
}

wandb_err wandb_image_new_png_file(wandb_image_t **out, const char *path)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!path || !*path)
        return WANDB_EINVAL;
    uint8_t *png = NULL;
    size_t len = 0;
    wandb_err rc = s_read(path, &png, &len);
    if (rc != WANDB_OK) {
        wbi_warn("wandb_image_new_png_file: '%.200s' not read: %s", path, wandb_strerror(rc));
        return rc;
    }
    uint32_t w = 0, h = 0;
    if (wbi_png_info(png, len, &w, &h) != WANDB_OK) {
        wbi_warn("wandb_image_new_png_file: '%.200s' is not a PNG (bad signature or IHDR)", path);
        wbi_free(png);
        return WANDB_EINVAL;
    }
    return s_image(out, png, len, w, h);
}

wandb_err wandb_image_set_caption(wandb_image_t *self, const char *caption)
{
    if (!self || (caption && !wbi_utf8_valid(caption, strlen(caption))))
        return WANDB_EINVAL;
    char *c = NULL;
    if (caption && !(c = wbi_strdup(caption)))
        return WANDB_ENOMEM;
    wbi_free(self->caption);
    self->caption = c;
    return WANDB_OK;
}

int wandb_image_width(const wandb_image_t *self)
{
    return self ? (int)self->width : 0;
}

int wandb_image_height(const wandb_image_t *self)
{
    return self ? (int)self->height : 0;
}

void wandb_image_destroy(wandb_image_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_free((*self_p)->png);
    wbi_free((*self_p)->caption);
    wbi_free(*self_p);
    *self_p = NULL;
}

// True when a call at step would be rejected for a lower step: the row is
// then logged (and rejected, counted) without sending any file.
static bool s_step_behind(const wandb_run_t *run, int64_t step)
{
    return step >= 0 && step < atomic_load_explicit(&run->step, memory_order_relaxed);
}

// Sends img as media/images/<key>_<step>_<sha>.png; its name goes to name.
static wandb_err s_send(wandb_run_t *run, const char *key, const wandb_image_t *img, int64_t step,
                        char *name, const char *call)
{
    wandb_err rc = wbi_media_name(name, "media/images", key, step, img->sha256, ".png");
    if (rc != WANDB_OK) {
        wbi_warn("%s: key '%.200s' gives no valid file name", call, key);
        return rc;
    }
    rc = wbi_media_send(run, name, img->png, img->len);
    if (rc != WANDB_OK)
        wbi_warn("%s: '%.200s' not sent: %s", call, name, wandb_strerror(rc));
    return rc;
}

// Dumps obj (consumed) and logs it under key.
static wandb_err s_log_obj(wandb_run_t *run, const char *key, json_t *obj, int64_t step, int commit)
{
    char *json = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!json)
        return WANDB_ENOMEM;
    wandb_err rc = wbi_media_log_json(run, key, json, step, commit);
    wbi_free(json);
    return rc;
}

wandb_err wandb_log_image(wandb_run_t *run, const char *key, const wandb_image_t *image,
                          int64_t step, int commit)
{
    if (!run || !key || !*key || !image)
        return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    if (s_step_behind(run, step))
        return wbi_media_log_json(run, key, "null", step, commit);
    int64_t at = wbi_media_step(run, step);
    char name[WBI_MEDIA_NAME_MAX];
    wandb_err rc = s_send(run, key, image, at, name, "wandb_log_image");
    if (rc != WANDB_OK)
        return rc;
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "_type", "image-file", "path", name,
                  "sha256", image->sha256, "size", (json_int_t)image->len, "format", "png", "width",
                  (json_int_t)image->width, "height", (json_int_t)image->height);
    if (obj && image->caption)
        json_object_set_new(obj, "caption", json_string(image->caption));
    return s_log_obj(run, key, obj, step, commit);
}

wandb_err wandb_log_images(wandb_run_t *run, const char *key, const wandb_image_t *const *images,
                           size_t n, int64_t step, int commit)
{
    if (!run || !key || !*key || !images || n == 0 || n > WBI_MEDIA_LIST_MAX)
        return WANDB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!images[i])
            return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    for (size_t i = 1; i < n; i++)
        if (images[i]->width != images[0]->width || images[i]->height != images[0]->height) {
            // The official client only warns too: the UI shows them at the first one's size.
            wbi_warn("wandb_log_images: '%.200s': image %zu is %ux%u, the first %ux%u: the UI "
                     "shows every image at the first one's size",
                     key, i, images[i]->width, images[i]->height, images[0]->width,
                     images[0]->height);
            break;
        }
    if (s_step_behind(run, step))
        return wbi_media_log_json(run, key, "null", step, commit);
    int64_t at = wbi_media_step(run, step);
    json_t *names = json_array();
    json_t *captions = images[0]->caption ? json_array() : NULL;
    json_t *obj = json_pack("{s:s, s:I, s:I, s:s, s:I}", "_type", "images/separated", "width",
                            (json_int_t)images[0]->width, "height", (json_int_t)images[0]->height,
                            "format", "png", "count", (json_int_t)n);
    wandb_err rc = names && obj && (captions || !images[0]->caption) ? WANDB_OK : WANDB_ENOMEM;
    for (size_t i = 0; rc == WANDB_OK && i < n; i++) {
        char name[WBI_MEDIA_NAME_MAX];
        rc = s_send(run, key, images[i], at, name, "wandb_log_images");
        if (rc == WANDB_OK && json_array_append_new(names, json_string(name)) != 0)
            rc = WANDB_ENOMEM;
        if (rc == WANDB_OK && captions &&
            json_array_append_new(captions, images[i]->caption ? json_string(images[i]->caption)
                                                               : json_null()) != 0)
            rc = WANDB_ENOMEM;
    }
    if (rc != WANDB_OK) {
        json_decref(names);
        json_decref(captions);
        json_decref(obj);
        return rc;
    }
    json_object_set_new(obj, "filenames", names);
    if (captions)
        json_object_set_new(obj, "captions", captions);
    return s_log_obj(run, key, obj, step, commit);
}
