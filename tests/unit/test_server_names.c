//  test_server_names.c - the server's name rules and its FIFO store lock
//  SPDX-License-Identifier: MIT
//
//  wbi_run_id_check / wbi_name_check (src/server/util.c) against W&B's rules,
//  and wbi_srv_lock (src/server/server.c): waiters get the lock in arrival
//  order, which is what lets a sliced file_stream yield to other requests.

#include "testutil.h"

#include "server/server_int.h"
#include "server/util.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

// Checks a run id given as a NUL-terminated string.
static bool s_run_id_ok(const char *s)
{
    char why[160];
    return wbi_run_id_check(s, strlen(s), why, sizeof why);
}

// Typical ids pass; each rule rejects what it names, with a reason.
static void test_run_id_rules(void)
{
    CHECK(s_run_id_ok("7spwg4bm"));
    CHECK(s_run_id_ok("job-7_rank.0"));
    CHECK(s_run_id_ok("\xc3\xa9t\xc3\xa9"));
    char why[160] = "";
    CHECK(!wbi_run_id_check("a\0b", 3, why, sizeof why));
    CHECK(strstr(why, "control character") != NULL);
    CHECK(!s_run_id_ok(""));
    CHECK(!s_run_id_ok(" a"));
    CHECK(!s_run_id_ok("a "));
    CHECK(!s_run_id_ok("."));
    CHECK(!s_run_id_ok(".."));
    CHECK(!s_run_id_ok("a/b"));
    CHECK(!s_run_id_ok("a\\b"));
    const char *reserved = ":;,#?'";
    for (const char *c = reserved; *c; c++) {
        char id[4] = {'a', *c, 'b', '\0'};
        CHECK(!s_run_id_ok(id));
    }
    CHECK(!s_run_id_ok("\xff"));
    char name[300];
    memset(name, 'a', sizeof name);
    name[128] = '\0';
    CHECK(s_run_id_ok(name));
    name[128] = 'a';
    name[129] = '\0';
    CHECK(!wbi_run_id_check(name, 129, why, sizeof why));
    CHECK(strstr(why, "longer than 128") != NULL);
    // 128 two-byte characters are 128 characters.
    for (int i = 0; i < 128; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[256] = '\0';
    CHECK(s_run_id_ok(name));
}

// Project and entity names: W&B's project rule.
static void test_project_rules(void)
{
    char why[160];
    CHECK(wbi_name_check("project", "uncategorized", 13, why, sizeof why));
    CHECK(wbi_name_check("entity", "local", 5, why, sizeof why));
    const char *bad[] = {"a/b", "a\\b", "a#b", "a?b", "a%b", "a:b", "", "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!wbi_name_check("project", bad[i], strlen(bad[i]), why, sizeof why));
    CHECK(strstr(why, "project") != NULL);
}

typedef struct {
    wbi_srv_lock_t *lock; // the lock under test
    pthread_mutex_t *m;   // guards order and n
    int *order;           // who got the lock, in order
    int *n;               // entries in order
    int id;               // this waiter
    volatile int *queued; // waiters that have taken their ticket
} s_waiter_t;

// Takes the lock once and notes the turn.
static void *s_waiter_main(void *arg)
{
    s_waiter_t *w = arg;
    __atomic_add_fetch(w->queued, 1, __ATOMIC_SEQ_CST);
    wbi_srv_lock(w->lock);
    pthread_mutex_lock(w->m);
    w->order[(*w->n)++] = w->id;
    pthread_mutex_unlock(w->m);
    wbi_srv_unlock(w->lock);
    return NULL;
}

// A holder that releases and retakes the lock lets every waiter that
// queued meanwhile go first.
static void test_fifo_lock_yields(void)
{
    wbi_srv_lock_t lock;
    wbi_srv_lock_init(&lock);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    int order[8];
    int n = 0;
    volatile int queued = 0;
    wbi_srv_lock(&lock);
    pthread_t th[3];
    s_waiter_t w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (s_waiter_t){&lock, &m, order, &n, i + 1, &queued};
        CHECK(pthread_create(&th[i], NULL, s_waiter_main, &w[i]) == 0);
        // Each waiter takes its ticket before the next starts.
        while (__atomic_load_n(&queued, __ATOMIC_SEQ_CST) < i + 1)
            usleep(1000);
        usleep(50 * 1000);
    }
    wbi_srv_unlock(&lock);
    wbi_srv_lock(&lock); // a slice boundary: the holder queues behind them
    pthread_mutex_lock(&m);
    order[n++] = 0;
    pthread_mutex_unlock(&m);
    wbi_srv_unlock(&lock);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(n, 4);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(order[i], i + 1);
    CHECK_EQ(order[3], 0);
    wbi_srv_lock_release(&lock);
}

WBT_MAIN({"run_id_rules", test_run_id_rules}, {"project_rules", test_project_rules},
         {"fifo_lock_yields", test_fifo_lock_yields})
