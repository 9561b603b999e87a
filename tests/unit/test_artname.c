//  test_artname.c - the naming rules of artifacts (common/artname.h)
//  SPDX-License-Identifier: MIT
//
//  The seed's valid forms and its "Invalid usage" examples, each with the
//  reason the message must give.
#include "common/artname.h"
#include "testutil.h"

static void test_names(void)
{
    char why[WBI_ART_WHY];
    CHECK(wbi_art_name_ok("my-model_v1.2", why, sizeof why));
    CHECK(!wbi_art_name_ok("a/b/c:latest", why, sizeof why));
    CHECK(strstr(why, "may only contain") && strstr(why, "'/'"));
    CHECK(!wbi_art_name_ok("bad name", why, sizeof why));
    CHECK(!wbi_art_name_ok("", why, sizeof why));
    CHECK(strstr(why, "empty"));
    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(!wbi_art_name_ok(long_name, why, sizeof why));
    CHECK(strstr(why, "longer than 128"));
    CHECK(wbi_art_type_ok("model", why, sizeof why));
    CHECK(!wbi_art_type_ok("wandb-history", why, sizeof why));
    CHECK(strstr(why, "reserved"));
    CHECK(!wbi_art_type_ok("a:b", why, sizeof why));
    CHECK(wbi_art_alias_ok("best-v2", why, sizeof why));
    CHECK(!wbi_art_alias_ok("x/y", why, sizeof why));
    CHECK(wbi_art_tag_ok("nightly build", why, sizeof why));
    CHECK(!wbi_art_tag_ok("bad!tag", why, sizeof why));
    CHECK(!wbi_art_tag_ok(" lead", why, sizeof why));
    CHECK(wbi_art_ref_ok("s3://bucket/key", why, sizeof why));
    CHECK(wbi_art_ref_ok("gs://bucket/key", why, sizeof why));
    CHECK(wbi_art_ref_ok("file:///data/x", why, sizeof why));
    CHECK(!wbi_art_ref_ok("ftp://host/x", why, sizeof why));
    CHECK(!wbi_art_ref_ok("s3://", why, sizeof why));
}

static void test_use_forms(void)
{
    char why[WBI_ART_WHY];
    wbi_art_ref_t r;
    CHECK(wbi_art_use_parse("data", &r, why, sizeof why));
    CHECK_STREQ(r.name, "data");
    CHECK_STREQ(r.alias, "latest");
    CHECK(wbi_art_use_parse("data:v3", &r, why, sizeof why));
    CHECK_STREQ(r.alias, "v3");
    CHECK(wbi_art_use_parse("proj/data:best", &r, why, sizeof why));
    CHECK_STREQ(r.project, "proj");
    CHECK_STREQ(r.entity, "");
    CHECK(wbi_art_use_parse("ent/proj/data:best", &r, why, sizeof why));
    CHECK_STREQ(r.entity, "ent");
    CHECK_STREQ(r.project, "proj");
    CHECK_STREQ(r.name, "data");
    CHECK(!wbi_art_use_parse("a/b/c/d:latest", &r, why, sizeof why));
    CHECK(strstr(why, "more than three"));
    CHECK(!wbi_art_use_parse("a//c", &r, why, sizeof why));
    CHECK(!wbi_art_use_parse("data:", &r, why, sizeof why));
    CHECK(!wbi_art_use_parse("da ta:latest", &r, why, sizeof why));
}

static void test_link_targets(void)
{
    char why[WBI_ART_WHY];
    wbi_art_ref_t t;
    CHECK(wbi_art_target_parse("portfolio", &t, why, sizeof why));
    CHECK_STREQ(t.name, "portfolio");
    CHECK(wbi_art_target_parse("proj/portfolio", &t, why, sizeof why));
    CHECK_STREQ(t.project, "proj");
    CHECK(wbi_art_target_parse("ent/model-registry/reg", &t, why, sizeof why));
    CHECK_STREQ(t.entity, "ent");
    CHECK(!wbi_art_target_parse("ent/proj/port:v1", &t, why, sizeof why));
    CHECK(strstr(why, "must not name a version"));
    CHECK(!wbi_art_target_parse("a/b/c/d", &t, why, sizeof why));
}

WBT_MAIN({"names", test_names}, {"use_forms", test_use_forms}, {"link_targets", test_link_targets})
