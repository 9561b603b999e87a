//  test_ring.c - the SPSC byte ring: wraparound, full, concurrent stress
//  SPDX-License-Identifier: MIT
#include "logger/ring.h"
#include "testutil.h"

#include <pthread.h>

// Normal use: push, read back at the tail, consume.
static void test_push_read_consume(void)
{
    wbi_ring_t ring;
    CHECK_OK(wbi_ring_init(&ring, 1000)); // rounds up to the minimum
    CHECK_EQ(ring.cap, WBI_RING_MIN_BYTES);
    CHECK_EQ(wbi_ring_readable(&ring), 0);
    CHECK_OK(wbi_ring_push(&ring, "hello", 5));
    CHECK_EQ(wbi_ring_readable(&ring), 5);
    char out[8] = {0};
    wbi_ring_read_at(&ring, wbi_ring_tail(&ring), out, 5);
    CHECK_STREQ(out, "hello");
    wbi_ring_consume(&ring, 5);
    CHECK_EQ(wbi_ring_readable(&ring), 0);
    CHECK_EQ(wbi_ring_tail(&ring), 5);
    wbi_ring_release(&ring);
    CHECK(ring.data == NULL);
}

// Capacity is a power of two and clamped.
static void test_sizes(void)
{
    wbi_ring_t ring;
    CHECK_OK(wbi_ring_init(&ring, 100000));
    CHECK_EQ(ring.cap, 131072);
    CHECK_EQ(ring.mask, 131071);
    wbi_ring_release(&ring);
}

// A write that crosses the end is split and reads back whole.
static void test_wraparound(void)
{
    wbi_ring_t ring;
    CHECK_OK(wbi_ring_init(&ring, WBI_RING_MIN_BYTES));
    size_t cap = ring.cap;
    static uint8_t big[WBI_RING_MIN_BYTES];
    memset(big, 'x', sizeof(big));
    CHECK_OK(wbi_ring_push(&ring, big, cap - 3)); // leave 3 bytes before the end
    wbi_ring_consume(&ring, cap - 3);
    uint8_t msg[10];
    for (int i = 0; i < 10; i++)
        msg[i] = (uint8_t)i;
    CHECK_OK(wbi_ring_push(&ring, msg, 10));
    CHECK_EQ(ring.data[cap - 3], 0); // the first piece at the end
    CHECK_EQ(ring.data[cap - 1], 2);
    CHECK_EQ(ring.data[0], 3); // the rest at the start
    CHECK_EQ(ring.data[6], 9);
    uint8_t back[10];
    wbi_ring_read_at(&ring, wbi_ring_tail(&ring), back, 10);
    CHECK(memcmp(back, msg, 10) == 0);
    wbi_ring_release(&ring);
}

// A full ring refuses a push whole and accepts it after consumption.
static void test_full(void)
{
    wbi_ring_t ring;
    CHECK_OK(wbi_ring_init(&ring, WBI_RING_MIN_BYTES));
    size_t cap = ring.cap;
    static uint8_t big[WBI_RING_MIN_BYTES];
    CHECK_OK(wbi_ring_push(&ring, big, cap - 4));
    CHECK_ERR(wbi_ring_push(&ring, "12345", 5), WANDB_EFULL);
    CHECK_EQ(wbi_ring_readable(&ring), cap - 4); // nothing partial went in
    CHECK_OK(wbi_ring_push(&ring, "1234", 4));
    CHECK_ERR(wbi_ring_push(&ring, "1", 1), WANDB_EFULL);
    wbi_ring_consume(&ring, 1);
    CHECK_OK(wbi_ring_push(&ring, "1", 1));
    CHECK_ERR(wbi_ring_push(&ring, "1", 1), WANDB_EFULL);
    wbi_ring_release(&ring);
}

#define STRESS_RECORDS 300000

typedef struct {
    wbi_ring_t *ring;  // shared ring
    uint64_t checksum; // sum the producer computed
    uint64_t full;     // pushes that found the ring full
} stress_t;

// Producer: records of 4..200 bytes: len u16, seq u32, payload of f(seq).
static void *s_producer(void *arg)
{
    stress_t *st = arg;
    uint8_t rec[200];
    for (uint32_t seq = 0; seq < STRESS_RECORDS; seq++) {
        uint16_t len = (uint16_t)(6 + (seq * 2654435761u >> 24) % 194);
        memcpy(rec, &len, 2);
        memcpy(rec + 2, &seq, 4);
        for (uint16_t i = 6; i < len; i++) {
            rec[i] = (uint8_t)(seq * 31 + i);
            st->checksum += rec[i];
        }
        while (wbi_ring_push(st->ring, rec, len) == WANDB_EFULL)
            st->full++;
    }
    return NULL;
}

// One producer thread, this thread consumes and checks order and bytes.
static void test_concurrent_stress(void)
{
    wbi_ring_t ring;
    CHECK_OK(wbi_ring_init(&ring, WBI_RING_MIN_BYTES));
    stress_t st = {.ring = &ring};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, s_producer, &st), 0);
    uint64_t sum = 0;
    uint32_t next = 0;
    while (next < STRESS_RECORDS) {
        size_t avail = wbi_ring_readable(&ring);
        size_t pos = wbi_ring_tail(&ring);
        size_t used = 0;
        while (used + 6 <= avail) {
            uint8_t rec[200];
            uint16_t len;
            wbi_ring_read_at(&ring, pos + used, &len, 2);
            CHECK(len >= 6 && len <= 200 && used + len <= avail);
            wbi_ring_read_at(&ring, pos + used, rec, len);
            uint32_t seq;
            memcpy(&seq, rec + 2, 4);
            CHECK_EQ(seq, next);
            for (uint16_t i = 6; i < len; i++) {
                CHECK_EQ(rec[i], (uint8_t)(seq * 31 + i));
                sum += rec[i];
            }
            next++;
            used += len;
        }
        if (used)
            wbi_ring_consume(&ring, used);
    }
    pthread_join(th, NULL);
    CHECK_EQ(sum, st.checksum);
    CHECK_EQ(wbi_ring_readable(&ring), 0);
    fprintf(stderr, "stress: %d records, producer saw a full ring %llu times\n", STRESS_RECORDS,
            (unsigned long long)st.full);
    wbi_ring_release(&ring);
}

WBT_MAIN({"push_read_consume", test_push_read_consume}, {"sizes", test_sizes},
         {"wraparound", test_wraparound}, {"full", test_full},
         {"concurrent_stress", test_concurrent_stress})
