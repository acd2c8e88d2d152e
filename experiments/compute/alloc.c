/*
 * alloc: allocation-heavy pointer code (malloc/free/realloc churn, linked structures).
 *
 * 1. Binary trees: build many short-lived complete trees of varying depth while
 *    one long-lived tree stays alive, walk each one, then free it node by node.
 * 2. Block churn: a pool of slots holding variable-sized blocks (8 B .. 4 KiB)
 *    that are freed, re-allocated and realloc'ed in a pseudo-random order,
 *    which fragments the heap and stresses the allocator's free lists.
 * 3. Linked lists: build a singly linked list of nodes, merge-sort it by
 *    relinking pointers, then reverse and checksum it.
 *
 * argv[1]: maximum tree depth (default 17); the other phases scale with it.
 * Output: node counts and checksums (never pointer values, which differ by target).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct Tree {
    struct Tree *left, *right;
    int32_t value;
} Tree;

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static Tree *tree_build(int depth, int32_t value) {
    Tree *t = xmalloc(sizeof(Tree));
    t->value = value;
    if (depth > 0) {
        t->left = tree_build(depth - 1, 2 * value - 1);
        t->right = tree_build(depth - 1, 2 * value);
    } else {
        t->left = t->right = NULL;
    }
    return t;
}

/* A checksum weighting left and right differently, so a wrong or swapped link changes it. */
static uint64_t tree_check(const Tree *t) {
    if (!t->left) return (uint64_t)(int64_t)t->value;
    return (uint64_t)(int64_t)t->value + 3 * tree_check(t->left) + tree_check(t->right);
}

static void tree_free(Tree *t) {
    if (t->left) {
        tree_free(t->left);
        tree_free(t->right);
    }
    free(t);
}

static uint32_t rng = 88172645u;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

typedef struct {
    uint8_t *ptr;
    uint32_t len;
} Slot;

/* Checksum of a block's contents: each block is filled with a pattern derived from its size. */
static uint32_t block_sum(const Slot *s) {
    uint32_t h = s->len;
    for (uint32_t i = 0; i < s->len; i += 7) h = h * 31u + s->ptr[i];
    return h;
}

static uint64_t churn(int rounds, int nslots) {
    Slot *slots = calloc((size_t)nslots, sizeof(Slot));
    uint64_t sum = 0;
    for (int r = 0; r < rounds; r++) {
        uint32_t x = next_rand();
        Slot *s = &slots[x % (uint32_t)nslots];
        /* small sizes dominate, as in real programs */
        uint32_t len = (x >> 20) & 1 ? 8 + (x >> 8) % 56 : 64 + (x >> 8) % 4032;
        if (s->ptr && (x >> 21) % 3 == 0) {
            /* grow or shrink in place when possible, keeping the old prefix */
            uint32_t keep = s->len < len ? s->len : len;
            s->ptr = realloc(s->ptr, len);
            if (!s->ptr) exit(1);
            memset(s->ptr + keep, (int)(len & 0xFF), len - keep);
            s->len = len;
        } else {
            if (s->ptr) {
                sum += block_sum(s);
                free(s->ptr);
            }
            s->ptr = xmalloc(len);
            memset(s->ptr, (int)(len & 0xFF), len);
            s->ptr[len - 1] = (uint8_t)r;
            s->len = len;
        }
    }
    for (int i = 0; i < nslots; i++)
        if (slots[i].ptr) {
            sum += block_sum(&slots[i]);
            free(slots[i].ptr);
        }
    free(slots);
    return sum;
}

typedef struct Node {
    struct Node *next;
    uint32_t key;
    uint32_t seq;
} Node;

static Node *merge(Node *a, Node *b) {
    Node head, *tail = &head;
    while (a && b) {
        /* ties broken by insertion order so the result is unique */
        if (a->key < b->key || (a->key == b->key && a->seq < b->seq)) {
            tail->next = a;
            a = a->next;
        } else {
            tail->next = b;
            b = b->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

/* Bottom-up merge sort of a linked list using an array of sorted runs (no recursion). */
static Node *list_sort(Node *list) {
    Node *runs[32] = {0};
    while (list) {
        Node *n = list;
        list = list->next;
        n->next = NULL;
        int i = 0;
        for (; i < 32 && runs[i]; i++) {
            n = merge(runs[i], n);
            runs[i] = NULL;
        }
        if (i == 32) i = 31;
        runs[i] = n;
    }
    Node *result = NULL;
    for (int i = 0; i < 32; i++)
        if (runs[i]) result = merge(runs[i], result);
    return result;
}

static uint64_t lists(int n) {
    Node *list = NULL;
    for (int i = 0; i < n; i++) {
        Node *node = xmalloc(sizeof(Node));
        node->key = next_rand() % 100000u;
        node->seq = (uint32_t)i;
        node->next = list;
        list = node;
    }
    list = list_sort(list);
    uint64_t sum = 0;
    uint32_t prev = 0, inversions = 0, pos = 0;
    for (Node *p = list; p; p = p->next, pos++) {
        if (p->key < prev) inversions++;
        prev = p->key;
        sum = sum * 1000003u + p->key * (uint64_t)(pos + 1) + p->seq;
    }
    Node *rev = NULL;
    while (list) { /* reverse while freeing every other node */
        Node *next = list->next;
        if (list->seq & 1) {
            free(list);
        } else {
            list->next = rev;
            rev = list;
        }
        list = next;
    }
    while (rev) {
        Node *next = rev->next;
        sum ^= rev->key;
        free(rev);
        rev = next;
    }
    return sum + inversions;
}

int main(int argc, char **argv) {
    int max_depth = argc > 1 ? atoi(argv[1]) : 17;
    if (max_depth < 6) max_depth = 6;
    int min_depth = 4;

    Tree *long_lived = tree_build(max_depth, 0);
    printf("alloc max_depth=%d\n", max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        int iterations = 1 << (max_depth - d + min_depth);
        uint64_t check = 0;
        for (int i = 1; i <= iterations; i++) {
            Tree *t = tree_build(d, i);
            check += tree_check(t);
            tree_free(t);
        }
        printf("trees depth %d x %d check %llu\n", d, iterations, (unsigned long long)check);
    }
    printf("long-lived tree check %llu\n", (unsigned long long)tree_check(long_lived));
    tree_free(long_lived);

    uint64_t c = churn(5 << max_depth, 4096);
    printf("churn checksum %llu\n", (unsigned long long)c);
    uint64_t l = lists(1 << (max_depth - 1));
    printf("list checksum %llu\n", (unsigned long long)l);
    return 0;
}
