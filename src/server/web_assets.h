//  web_assets.h - the dashboard's files, built into the server binary
//  SPDX-License-Identifier: MIT
//
//  The table is generated at build time (cmake/WandbEmbed.cmake) from
//  src/server/web: the app, its style sheet and the vendored chart library.
//  Read-only data; any thread.
#ifndef WBI_WEB_ASSETS_H
#define WBI_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;          // "/static/app.js"
    const char *content_type;  // "text/javascript; charset=utf-8"
    const unsigned char *data; // the bytes (NUL-terminated copy)
    size_t len;                // bytes, without the NUL
} wbi_web_asset_t;

extern const wbi_web_asset_t wbi_web_assets[];
extern const unsigned wbi_web_asset_count;

#endif
