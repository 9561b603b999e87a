//  test_backend_list.c - the backend's intrusive FIFO
//  SPDX-License-Identifier: MIT
#include "backend/list.h"
#include "testutil.h"

typedef struct {
    int value;            // payload before the node: WBI_LIST_ITEM must subtract the offset
    wbi_list_node_t node; // the link
} item_t;

static int s_value(wbi_list_node_t *n)
{
    return WBI_LIST_ITEM(n, item_t, node)->value;
}

// Append and pop keep FIFO order and the count.
static void test_fifo(void)
{
    item_t it[5];
    wbi_list_t l;
    wbi_list_init(&l);
    CHECK(wbi_list_empty(&l));
    CHECK(wbi_list_pop(&l) == NULL);
    CHECK(WBI_LIST_ITEM(wbi_list_pop(&l), item_t, node) == NULL);
    for (int i = 0; i < 5; i++) {
        it[i].value = i;
        wbi_list_append(&l, &it[i].node);
    }
    CHECK_EQ(l.count, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(s_value(wbi_list_pop(&l)), i);
    CHECK(wbi_list_empty(&l));
    CHECK(l.tail == NULL);
    CHECK_EQ(l.count, 0);
}

// Splice moves a whole list in O(1); pop_n and take_all detach chains.
static void test_splice_pop_n(void)
{
    item_t it[6];
    wbi_list_t a, b;
    wbi_list_init(&a);
    wbi_list_init(&b);
    wbi_list_splice(&a, &b); // empty into empty
    CHECK(wbi_list_empty(&a));
    for (int i = 0; i < 6; i++) {
        it[i].value = i;
        wbi_list_append(i < 2 ? &a : &b, &it[i].node);
    }
    wbi_list_splice(&a, &b);
    CHECK(wbi_list_empty(&b));
    CHECK_EQ(a.count, 6);
    CHECK(a.tail == &it[5].node);
    wbi_list_node_t *chain = wbi_list_pop_n(&a, 4);
    CHECK_EQ(a.count, 2);
    int n = 0;
    for (wbi_list_node_t *p = chain; p; p = p->next)
        CHECK_EQ(s_value(p), n++);
    CHECK_EQ(n, 4);
    CHECK(wbi_list_pop_n(&a, 0) == NULL);
    chain = wbi_list_pop_n(&a, 10); // shorter than asked
    CHECK(chain == &it[4].node && chain->next == &it[5].node && !chain->next->next);
    CHECK(wbi_list_empty(&a) && a.tail == NULL && a.count == 0);
    wbi_list_append(&a, &it[0].node);
    wbi_list_append(&a, &it[1].node);
    chain = wbi_list_take_all(&a);
    CHECK(chain == &it[0].node && wbi_list_empty(&a));
    wbi_list_append(&b, &it[2].node); // the tail is right after splicing into an empty list
    wbi_list_splice(&a, &b);
    wbi_list_append(&a, &it[3].node);
    CHECK_EQ(s_value(wbi_list_pop(&a)), 2);
    CHECK_EQ(s_value(wbi_list_pop(&a)), 3);
}

WBT_MAIN({"fifo", test_fifo}, {"splice_pop_n", test_splice_pop_n})
