//  test_relpath.c - the relative file-name checks shared by logger, backend and server
//  SPDX-License-Identifier: MIT
#include "common/relpath.h"
#include "testutil.h"

// Normal use: names as wandb_save makes them pass, escapes do not.
static void test_names(void)
{
    CHECK(wbi_rel_path_ok("model.pt"));
    CHECK(wbi_rel_path_ok("media/images/a.png"));
    CHECK(wbi_rel_path_ok(".hidden/..x/x.."));
    CHECK(wbi_run_file_name_ok("sub/end.txt"));
    CHECK(!wbi_rel_path_ok(NULL));
    CHECK(!wbi_rel_path_ok(""));
    CHECK(!wbi_rel_path_ok("/etc/passwd"));
    CHECK(!wbi_rel_path_ok("../x"));
    CHECK(!wbi_rel_path_ok("a/../../x"));
    CHECK(!wbi_rel_path_ok("a/./x"));
    CHECK(!wbi_rel_path_ok("a//x"));
    CHECK(!wbi_rel_path_ok("a/"));
    CHECK(!wbi_rel_path_ok("."));
    CHECK(!wbi_run_file_name_ok(NULL));
    CHECK(!wbi_run_file_name_ok("../x"));
}

// Backslashes and control bytes are refused anywhere in the name.
static void test_bytes(void)
{
    CHECK(!wbi_rel_path_ok("a\\b"));
    CHECK(!wbi_rel_path_ok("a\nb"));
    CHECK(!wbi_rel_path_ok("a\x1f"));
    CHECK(!wbi_rel_path_ok("a\x7f"));
    CHECK(wbi_rel_path_ok("caf\xc3\xa9.txt"));
    CHECK(wbi_run_file_name_ok("caf\xc3\xa9.txt"));
}

// Only the run-file check asks for UTF-8.
static void test_utf8(void)
{
    CHECK(wbi_rel_path_ok("bad\xff.txt"));
    CHECK(!wbi_run_file_name_ok("bad\xff.txt"));
    CHECK(!wbi_run_file_name_ok("over\xc0\xaflong"));
}

// At most WBI_RELPATH_MAX bytes.
static void test_length(void)
{
    char name[WBI_RELPATH_MAX + 2];
    memset(name, 'a', sizeof name);
    name[WBI_RELPATH_MAX] = '\0';
    CHECK(wbi_rel_path_ok(name));
    CHECK(wbi_run_file_name_ok(name));
    name[WBI_RELPATH_MAX] = 'a';
    name[WBI_RELPATH_MAX + 1] = '\0';
    CHECK(!wbi_rel_path_ok(name));
    CHECK(!wbi_run_file_name_ok(name));
}

WBT_MAIN({"names", test_names}, {"bytes", test_bytes}, {"utf8", test_utf8}, {"length", test_length})
