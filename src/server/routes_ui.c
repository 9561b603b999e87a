//  routes_ui.c - wandb-mpi-server: the dashboard's pages, assets and login
//  SPDX-License-Identifier: MIT
//
//  Every page has the W&B URL shape (/, /<entity>/<project>,
//  .../runs/<id>, .../groups/<group>) and gets the same small HTML shell;
//  the app (web/app.js, built in through web_assets.h) reads the path and
//  draws the page from the read API. Pages need the API key, as a header or
//  as the cookie that /login sets; without it they answer 401 with the key
//  form, which shows no data. /static/* is the app's own code (no data) and
//  is served to anyone. Every answer carries a strict Content-Security-Policy.
//  Handlers run on worker threads; they touch no shared state.

#include "common/alloc.h"
#include "server/server_int.h"
#include "server/web_assets.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define S_CSP                                                                                      \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; "        \
    "frame-ancestors 'none'\n"                                                                     \
    "X-Content-Type-Options: nosniff\nReferrer-Policy: no-referrer\nX-Frame-Options: DENY\n"
#define S_NEXT_MAX 1024 // bytes of the page a login returns to

// The page shell: the app draws everything from the URL and the read API.
static const char s_shell[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>wandb-mpi</title>"
    "<link rel=\"stylesheet\" href=\"/static/vendor/uPlot.min.css\">"
    "<link rel=\"stylesheet\" href=\"/static/app.css\">"
    "<script src=\"/static/vendor/uPlot.iife.min.js\" defer></script>"
    "<script src=\"/static/charts.js\" defer></script>"
    "<script src=\"/static/run.js\" defer></script>"
    "<script src=\"/static/app.js\" defer></script>"
    "</head><body><header id=\"top\"><a href=\"/\" class=\"brand\">wandb-mpi</a>"
    "<nav id=\"crumbs\"></nav><span id=\"live\"></span></header>"
    "<main id=\"main\"><p class=\"muted\">Loading&hellip;</p></main></body></html>\n";

// The key form: static text, nothing from the request but the return path,
// which goes through the form's hidden field after HTML escaping.
static const char s_form_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>wandb-mpi: API key</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
    "</head><body><main class=\"login\"><h1>wandb-mpi</h1>"
    "<p>This dashboard needs the server's API key (<code>DIR/api_key</code>, or the "
    "<code>WANDB_API_KEY</code> the job used).</p>"
    "<form method=\"post\" action=\"/login\" id=\"login\">"
    "<input type=\"password\" name=\"key\" id=\"key\" autocomplete=\"current-password\" "
    "placeholder=\"API key\" autofocus required>";
static const char s_form_tail[] =
    "<button type=\"submit\">Open</button></form>%s</main></body></html>\n";

// Appends text HTML-escaped (for the return path in the form).
static void s_put_escaped(wbi_buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            wbi_buf_puts(out, "&amp;");
            break;
        case '<':
            wbi_buf_puts(out, "&lt;");
            break;
        case '>':
            wbi_buf_puts(out, "&gt;");
            break;
        case '"':
            wbi_buf_puts(out, "&quot;");
            break;
        case '\'':
            wbi_buf_puts(out, "&#39;");
            break;
        default:
            wbi_buf_putc(out, *s);
        }
    }
}

// True for a same-site path to return to: "/..." but not "//host" or "/\host".
static bool s_next_ok(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) >= S_NEXT_MAX)
        return false;
    for (const char *p = next; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

// Answers 401 with the key form (returning to next after login).
static void s_reply_form(wbi_srv_reply_t *reply, const char *next, bool wrong)
{
    wbi_buf_init(&reply->raw, 64 * 1024);
    wbi_buf_puts(&reply->raw, s_form_head);
    wbi_buf_puts(&reply->raw, "<input type=\"hidden\" name=\"next\" value=\"");
    s_put_escaped(&reply->raw, s_next_ok(next) ? next : "/");
    wbi_buf_puts(&reply->raw, "\">");
    wbi_buf_printf(&reply->raw, s_form_tail,
                   wrong ? "<p class=\"error\" id=\"wrong\">Wrong key.</p>" : "");
    reply->raw_set = true;
    reply->status = 401;
    reply->content_type = "text/html; charset=utf-8";
    snprintf(reply->headers, sizeof reply->headers, "%sCache-Control: no-store\n", S_CSP);
}

// Sets the cookie and redirects to next (303 See Other).
static void s_reply_login(wbi_server_t *self, wbi_srv_reply_t *reply, const char *next)
{
    reply->status = 303;
    reply->raw_set = true;
    reply->content_type = "text/plain; charset=utf-8";
    snprintf(reply->headers, sizeof reply->headers,
             "%sSet-Cookie: " WBI_SRV_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict\n"
             "Location: %s\nCache-Control: no-store\n",
             S_CSP, self->api_key, s_next_ok(next) ? next : "/");
}

// True when the key can be a cookie value (RFC 6265 cookie-octet) that fits
// the reply's header buffer.
static bool s_cookie_safe(const char *key)
{
    if (strlen(key) > 256)
        return false;
    for (const char *p = key; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("\",;\\", *p))
            return false;
    return *key != '\0';
}

// Decodes one application/x-www-form-urlencoded value in place.
static void s_form_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
            char hex[3] = {r[1], r[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

// Finds field name in a form body (copied into out, decoded).
static bool s_form_field(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = body;
    const char *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = (size_t)(stop - p) - nlen - 1;
            if (vlen >= outlen)
                return false;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            s_form_decode(out);
            return true;
        }
        p = stop + 1;
    }
    return false;
}

// POST /login (form: key, next): sets the cookie, or the form again (401).
void wbi_srv_handle_login_post(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)url;
    char key[512] = "";
    char next[S_NEXT_MAX] = "/";
    const char *body = req->body.data ? req->body.data : "";
    s_form_field(body, req->body.len, "next", next, sizeof next);
    if (s_form_field(body, req->body.len, "key", key, sizeof key) &&
        wbi_srv_key_eq(key, strlen(key), self->api_key) && s_cookie_safe(self->api_key))
        s_reply_login(self, reply, next);
    else
        s_reply_form(reply, next, true);
}

// Serves one built-in asset, or 404.
static void s_reply_asset(const char *url, wbi_srv_reply_t *reply)
{
    for (unsigned i = 0; i < wbi_web_asset_count; i++) {
        const wbi_web_asset_t *a = &wbi_web_assets[i];
        if (strcmp(a->path, url) != 0)
            continue;
        wbi_buf_init(&reply->raw, a->len + 1);
        wbi_buf_append(&reply->raw, a->data, a->len);
        reply->raw_set = true;
        reply->status = 200;
        reply->content_type = a->content_type;
        snprintf(reply->headers, sizeof reply->headers, "%sCache-Control: no-cache\n", S_CSP);
        return;
    }
    wbi_srv_reply_error(reply, 404, "no such asset '%s'", url);
}

// True for the page shapes: /, /<e>/<p>, /<e>/<p>/runs/<id>[/<tab>],
// /<e>/<p>/groups/<g>[/workspace] (a group name may hold '/': the URL has it
// as %2F, which arrives decoded).
static bool s_is_page(const char *url)
{
    if (strcmp(url, "/") == 0)
        return true;
    char seg[3][256];
    const char *rest = NULL;
    if (wbi_srv_split(url + 1, seg, 2, &rest) && *rest == '\0')
        return true;
    if (!wbi_srv_split(url + 1, seg, 3, &rest) || *rest == '\0')
        return false;
    if (strcmp(seg[2], "groups") == 0)
        return true;
    // /runs/<id> or W&B's run tabs /runs/<id>/<tab> (overview, logs, files, ...).
    const char *slash = strchr(rest, '/');
    return strcmp(seg[2], "runs") == 0 && (!slash || !strchr(slash + 1, '/'));
}

// GET on any path no other route takes: assets, /login?key=, /logout, pages.
void wbi_srv_handle_ui_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                           const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    if (strncmp(url, "/static/", 8) == 0) {
        s_reply_asset(url, reply);
        return;
    }
    if (strncmp(url, "/api/", 5) == 0 || strncmp(url, "/files/", 7) == 0) {
        wbi_srv_reply_error(reply, 404, "no such resource '%s'", url);
        return;
    }
    if (strcmp(url, "/login") == 0) {
        // The launcher's link: /login?key=K&next=/e/p/groups/g. The redirect
        // takes the key out of the address bar.
        const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
        const char *next = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "next");
        if (key && wbi_srv_key_eq(key, strlen(key), self->api_key) && s_cookie_safe(self->api_key))
            s_reply_login(self, reply, next);
        else
            s_reply_form(reply, next, key != NULL);
        return;
    }
    if (strcmp(url, "/logout") == 0) {
        reply->status = 303;
        reply->raw_set = true;
        reply->content_type = "text/plain; charset=utf-8";
        snprintf(reply->headers, sizeof reply->headers,
                 "%sSet-Cookie: " WBI_SRV_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
                 "Max-Age=0\nLocation: /\n",
                 S_CSP);
        return;
    }
    if (!s_is_page(url)) {
        wbi_srv_reply_error(reply, 404, "no such page '%s'", url);
        return;
    }
    if (!wbi_srv_authorized(self, conn, true)) {
        pthread_mutex_lock(&self->lock);
        self->n_unauthorized++;
        pthread_mutex_unlock(&self->lock);
        s_reply_form(reply, url, false);
        return;
    }
    wbi_buf_init(&reply->raw, sizeof s_shell);
    wbi_buf_append(&reply->raw, s_shell, sizeof s_shell - 1);
    reply->raw_set = true;
    reply->status = 200;
    reply->content_type = "text/html; charset=utf-8";
    snprintf(reply->headers, sizeof reply->headers, "%sCache-Control: no-store\n", S_CSP);
}
