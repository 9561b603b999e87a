//  artname.c - the naming rules of artifacts (artname.h)
//  SPDX-License-Identifier: MIT
#include "common/artname.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool s_fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool s_fail(char *why, size_t n, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool s_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Common part: present, not empty, not over WBI_ART_NAME_MAX.
static bool s_len_ok(const char *what, const char *s, char *why, size_t n)
{
    if (!s || !*s)
        return s_fail(why, n, "%s is empty", what);
    if (strlen(s) > WBI_ART_NAME_MAX)
        return s_fail(why, n, "%s '%.40s...' is longer than %d characters", what, s,
                      WBI_ART_NAME_MAX);
    return true;
}

bool wbi_art_name_ok(const char *name, char *why, size_t n)
{
    if (!s_len_ok("artifact name", name, why, n))
        return false;
    for (const char *p = name; *p; p++)
        if (!s_word(*p) && *p != '-' && *p != '.')
            return s_fail(why, n,
                          "artifact name '%s' may only contain letters, digits, '_', '-' and "
                          "'.' (found '%c' at %zu)",
                          name, *p, (size_t)(p - name));
    return true;
}

// No '/' or ':' (types and aliases).
static bool s_no_sep(const char *what, const char *s, char *why, size_t n)
{
    if (!s_len_ok(what, s, why, n))
        return false;
    if (strpbrk(s, "/:"))
        return s_fail(why, n, "%s '%s' must not contain '/' or ':'", what, s);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return s_fail(why, n, "%s '%s' contains a control character", what, s);
    return true;
}

bool wbi_art_type_ok(const char *type, char *why, size_t n)
{
    if (!s_no_sep("artifact type", type, why, n))
        return false;
    if (strncmp(type, "wandb-", 6) == 0)
        return s_fail(why, n, "artifact type '%s' is reserved (types starting with 'wandb-')",
                      type);
    return true;
}

bool wbi_art_alias_ok(const char *alias, char *why, size_t n)
{
    return s_no_sep("alias", alias, why, n);
}

bool wbi_art_tag_ok(const char *tag, char *why, size_t n)
{
    if (!s_len_ok("tag", tag, why, n))
        return false;
    // ^[-\w]+( +[-\w]+)*$
    const char *p = tag;
    for (;;) {
        const char *start = p;
        while (s_word(*p) || *p == '-')
            p++;
        if (p == start)
            break;
        if (!*p)
            return true;
        if (*p != ' ')
            break;
        while (*p == ' ')
            p++;
    }
    return s_fail(why, n,
                  "tag '%s' may only contain words of letters, digits, '_' and '-' "
                  "separated by spaces",
                  tag);
}

bool wbi_art_ref_ok(const char *uri, char *why, size_t n)
{
    static const char *schemes[] = {"s3://", "gs://", "https://", "http://", "file://"};
    if (!uri || !*uri)
        return s_fail(why, n, "reference is empty");
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t k = strlen(schemes[i]);
        if (strncmp(uri, schemes[i], k) == 0 && uri[k])
            return true;
    }
    return s_fail(why, n,
                  "reference '%.200s' must start with s3://, gs://, https://, http:// or file:// "
                  "and name something",
                  uri);
}

// Copies s[0..len) into a WBI_ART_NAME_MAX + 1 buffer; false when too long.
static bool s_copy(char *dst, const char *s, size_t len)
{
    if (len > WBI_ART_NAME_MAX)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

// Splits spec at '/' into at most three parts (the last one is the name).
static bool s_split(const char *spec, const char *what, wbi_art_ref_t *out, const char **last,
                    char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return s_fail(why, n, "%s is empty", what);
    const char *parts[3];
    size_t lens[3], np = 0;
    const char *p = spec;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (np == 3)
            return s_fail(why, n, "%s '%s' has more than three '/'-separated parts", what, spec);
        if (len == 0)
            return s_fail(why, n, "%s '%s' has an empty part", what, spec);
        parts[np] = p;
        lens[np++] = len;
        if (!slash)
            break;
        p = slash + 1;
    }
    char *dst[3] = {NULL, NULL, NULL};
    if (np == 3) {
        dst[0] = out->entity;
        dst[1] = out->project;
    } else if (np == 2) {
        dst[0] = out->project;
    }
    for (size_t i = 0; i + 1 < np; i++) {
        if (!s_copy(dst[i], parts[i], lens[i]))
            return s_fail(why, n, "%s '%.60s...': a part is too long", what, spec);
        if (strpbrk(dst[i], ":\\#?%"))
            return s_fail(why, n, "%s '%s': entity and project must not contain ':'", what, spec);
    }
    *last = parts[np - 1];
    return true;
}

bool wbi_art_use_parse(const char *spec, wbi_art_ref_t *out, char *why, size_t n)
{
    const char *last;
    if (!s_split(spec, "artifact", out, &last, why, n))
        return false;
    const char *colon = strchr(last, ':');
    size_t nlen = colon ? (size_t)(colon - last) : strlen(last);
    if (!s_copy(out->name, last, nlen))
        return s_fail(why, n, "artifact '%.60s...': name too long", spec);
    if (!wbi_art_name_ok(out->name, why, n))
        return false;
    const char *alias = colon ? colon + 1 : "latest";
    if (!s_copy(out->alias, alias, strlen(alias)) || !wbi_art_alias_ok(out->alias, why, n))
        return colon
                   ? s_fail(why, n, "artifact '%s': the part after ':' is not a valid alias", spec)
                   : false;
    return true;
}

bool wbi_art_target_parse(const char *spec, wbi_art_ref_t *out, char *why, size_t n)
{
    const char *last;
    if (spec && strchr(spec, ':'))
        return s_fail(why, n,
                      "link target '%s' must not name a version or alias: use "
                      "'portfolio', 'project/portfolio' or 'entity/project/portfolio'",
                      spec);
    if (!s_split(spec, "link target", out, &last, why, n))
        return false;
    if (!s_copy(out->name, last, strlen(last)))
        return s_fail(why, n, "link target '%.60s...': name too long", spec);
    return wbi_art_name_ok(out->name, why, n);
}
