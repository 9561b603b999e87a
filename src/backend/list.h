//  list.h - an intrusive singly-linked FIFO for the backend's queues
//  SPDX-License-Identifier: MIT
//
//  The element embeds a wbi_list_node_t (by convention its first member, so
//  a node pointer converts to the element with WBI_LIST_ITEM). Append, take
//  from the front and move a whole list are O(1); nothing is allocated.
//  Thread: no locking (the owner guards the list).
#ifndef WBI_BACKEND_LIST_H
#define WBI_BACKEND_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wbi_list_node {
    struct wbi_list_node *next; // next element, or NULL
} wbi_list_node_t;

typedef struct {
    wbi_list_node_t *head; // first element, or NULL
    wbi_list_node_t *tail; // last element, or NULL
    size_t count;          // elements in the list
} wbi_list_t;

// The element holding node at offset off (NULL stays NULL).
static inline void *wbi_list__item(const wbi_list_node_t *node, size_t off)
{
    return node ? (void *)((char *)(uintptr_t)node - off) : NULL;
}

// The element of type `type` whose member `member` is node (NULL stays
// NULL). node is evaluated once.
#define WBI_LIST_ITEM(node, type, member) ((type *)wbi_list__item((node), offsetof(type, member)))

static inline void wbi_list_init(wbi_list_t *self)
{
    *self = (wbi_list_t){0};
}

static inline bool wbi_list_empty(const wbi_list_t *self)
{
    return self->head == NULL;
}

// Appends node at the end.
static inline void wbi_list_append(wbi_list_t *self, wbi_list_node_t *node)
{
    node->next = NULL;
    if (self->tail)
        self->tail->next = node;
    else
        self->head = node;
    self->tail = node;
    self->count++;
}

// Removes and returns the first node, or NULL when empty.
static inline wbi_list_node_t *wbi_list_pop(wbi_list_t *self)
{
    wbi_list_node_t *node = self->head;
    if (!node)
        return NULL;
    self->head = node->next;
    if (!self->head)
        self->tail = NULL;
    self->count--;
    node->next = NULL;
    return node;
}

// Moves every node of src to the end of self; src becomes empty.
static inline void wbi_list_splice(wbi_list_t *self, wbi_list_t *src)
{
    if (!src->head)
        return;
    if (self->tail)
        self->tail->next = src->head;
    else
        self->head = src->head;
    self->tail = src->tail;
    self->count += src->count;
    wbi_list_init(src);
}

// Removes the first n nodes (fewer when the list is shorter) and returns
// them as a NULL-terminated chain.
static inline wbi_list_node_t *wbi_list_pop_n(wbi_list_t *self, size_t n)
{
    wbi_list_node_t *first = self->head, *last = first;
    if (!first || n == 0)
        return NULL;
    size_t k = 1;
    for (; k < n && last->next; k++)
        last = last->next;
    self->head = last->next;
    if (!self->head)
        self->tail = NULL;
    self->count -= k;
    last->next = NULL;
    return first;
}

// Detaches every node and returns them as a NULL-terminated chain.
static inline wbi_list_node_t *wbi_list_take_all(wbi_list_t *self)
{
    wbi_list_node_t *first = self->head;
    wbi_list_init(self);
    return first;
}

#endif
