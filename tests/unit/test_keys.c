//  test_keys.c - the key interning table: ids, collisions, capacity, rollback
//  SPDX-License-Identifier: MIT
#include "logger/keys.h"
#include "testutil.h"

// Normal use: ids in order of first use; find by bytes, not by pointer.
static void test_intern_and_find(void)
{
    wbi_keys_t keys;
    CHECK_OK(wbi_keys_init(&keys, 16, 32));
    size_t len;
    uint32_t hash;
    CHECK_EQ(wbi_keys_find(&keys, "loss", &len, &hash), 0);
    CHECK_EQ(len, 4);
    uint32_t id = 0;
    CHECK_OK(wbi_keys_add(&keys, "loss", len, hash, &id));
    CHECK_EQ(id, 1);
    CHECK_EQ(wbi_keys_find(&keys, "acc", &len, &hash), 0);
    CHECK_OK(wbi_keys_add(&keys, "acc", len, hash, &id));
    CHECK_EQ(id, 2);
    char buf[8] = "loss";
    CHECK_EQ(wbi_keys_find(&keys, buf, &len, &hash), 1);
    memcpy(buf, "acc", 4); // same buffer, other key
    CHECK_EQ(wbi_keys_find(&keys, buf, &len, &hash), 2);
    CHECK_EQ(wbi_keys_find(&keys, "los", &len, &hash), 0);
    CHECK_EQ(wbi_keys_find(&keys, "losss", &len, &hash), 0);
    const char *p = wbi_keys_get(&keys, 1, &len);
    CHECK(p && len == 4 && memcmp(p, "loss", 4) == 0);
    CHECK(wbi_keys_get(&keys, 3, &len) == NULL);
    CHECK(wbi_keys_get(&keys, 0, &len) == NULL);
    wbi_keys_release(&keys);
}

// Every key stays findable when many share probe chains (a tiny table).
static void test_collisions(void)
{
    wbi_keys_t keys;
    CHECK_OK(wbi_keys_init(&keys, 600, 16));
    char k[32];
    for (int i = 0; i < 512; i++) {
        snprintf(k, sizeof(k), "m/%d", i);
        size_t len;
        uint32_t hash;
        CHECK_EQ(wbi_keys_find(&keys, k, &len, &hash), 0);
        uint32_t id;
        CHECK_OK(wbi_keys_add(&keys, k, len, hash, &id));
        CHECK_EQ(id, (uint32_t)i + 1);
    }
    for (int i = 0; i < 512; i++) {
        snprintf(k, sizeof(k), "m/%d", i);
        size_t len;
        uint32_t hash;
        CHECK_EQ(wbi_keys_find(&keys, k, &len, &hash), (uint32_t)i + 1);
    }
    // Forced collisions: the same hash for different bytes still compares bytes.
    size_t len;
    uint32_t hash;
    wbi_keys_find(&keys, "zz", &len, &hash);
    uint32_t id;
    CHECK_OK(wbi_keys_add(&keys, "zz", len, 12345, &id)); // hash deliberately wrong
    CHECK_EQ(wbi_keys_find(&keys, "zz", &len, &hash), 0); // looked up under its real hash
    wbi_keys_release(&keys);
}

// The table and the arena are bounded: EFULL, and nothing changes.
static void test_capacity(void)
{
    wbi_keys_t keys;
    CHECK_OK(wbi_keys_init(&keys, 4, 8)); // 32 bytes of arena
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        size_t len;
        uint32_t hash, id;
        wbi_keys_find(&keys, names[i], &len, &hash);
        CHECK_OK(wbi_keys_add(&keys, names[i], len, hash, &id));
    }
    size_t len;
    uint32_t hash, id;
    wbi_keys_find(&keys, "e", &len, &hash);
    CHECK_ERR(wbi_keys_add(&keys, "e", len, hash, &id), WANDB_EFULL);
    CHECK_EQ(keys.count, 4);
    wbi_keys_release(&keys);

    CHECK_OK(wbi_keys_init(&keys, 4, 8));
    char longkey[40];
    memset(longkey, 'k', 30);
    longkey[30] = '\0';
    wbi_keys_find(&keys, longkey, &len, &hash);
    CHECK_OK(wbi_keys_add(&keys, longkey, len, hash, &id));
    longkey[0] = 'j';
    wbi_keys_find(&keys, longkey, &len, &hash);
    CHECK_ERR(wbi_keys_add(&keys, longkey, len, hash, &id), WANDB_EFULL); // arena
    wbi_keys_release(&keys);
}

// Lengths: 0 and > 255 are refused by add; find caps the scan at 256.
static void test_lengths(void)
{
    wbi_keys_t keys;
    CHECK_OK(wbi_keys_init(&keys, 8, 255));
    char k[400];
    memset(k, 'a', sizeof(k) - 1);
    k[399] = '\0';
    size_t len;
    uint32_t hash, id;
    CHECK_EQ(wbi_keys_find(&keys, k, &len, &hash), 0);
    CHECK_EQ(len, 256);
    CHECK_ERR(wbi_keys_add(&keys, k, len, hash, &id), WANDB_EINVAL);
    k[255] = '\0';
    wbi_keys_find(&keys, k, &len, &hash);
    CHECK_EQ(len, 255);
    CHECK_OK(wbi_keys_add(&keys, k, len, hash, &id));
    wbi_keys_find(&keys, "", &len, &hash);
    CHECK_ERR(wbi_keys_add(&keys, "", 0, hash, &id), WANDB_EINVAL);
    wbi_keys_release(&keys);
}

// Rolling back the last keys makes them unknown and frees their room.
static void test_truncate(void)
{
    wbi_keys_t keys;
    CHECK_OK(wbi_keys_init(&keys, 64, 8));
    char k[16];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        size_t len;
        uint32_t hash, id;
        wbi_keys_find(&keys, k, &len, &hash);
        CHECK_OK(wbi_keys_add(&keys, k, len, hash, &id));
    }
    size_t arena = 0;
    for (int i = 0; i < 30; i++)
        arena += (size_t)snprintf(k, sizeof(k), "k%d", i);
    wbi_keys_truncate(&keys, 30);
    CHECK_EQ(keys.count, 30);
    CHECK_EQ(keys.arena_len, arena);
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        size_t len;
        uint32_t hash;
        CHECK_EQ(wbi_keys_find(&keys, k, &len, &hash), i < 30 ? (uint32_t)i + 1 : 0);
    }
    size_t len;
    uint32_t hash, id;
    wbi_keys_find(&keys, "k35", &len, &hash);
    CHECK_OK(wbi_keys_add(&keys, "k35", len, hash, &id));
    CHECK_EQ(id, 31);
    wbi_keys_release(&keys);
}

WBT_MAIN({"intern_and_find", test_intern_and_find}, {"collisions", test_collisions},
         {"capacity", test_capacity}, {"lengths", test_lengths}, {"truncate", test_truncate})
