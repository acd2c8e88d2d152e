/*
 * sort: comparison sorting through libc qsort (indirect comparator calls).
 *
 * Sorts an array of records several ways with qsort: by a 32-bit key, by a
 * double, and by a string field (strcmp), each comparator breaking ties on a
 * unique id so the order is total and every libc produces the same result.
 * Also sorts plain int arrays that are random, already sorted, reversed and
 * nearly sorted, and looks values up with bsearch. Finally a hand-written
 * introsort-style quicksort on doubles gives a non-libc baseline.
 *
 * argv[1]: number of records (default 400000). Output: checksums of each
 * sorted order and bsearch hit counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct {
    uint32_t key;
    uint32_t id;
    double score;
    char tag[12];
} Rec;

static uint32_t s = 0xC0FFEEu;
static uint32_t rnd(void) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

static int by_key(const void *a, const void *b) {
    const Rec *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}
static int by_score_desc(const void *a, const void *b) {
    const Rec *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}
static int by_tag(const void *a, const void *b) {
    const Rec *x = a, *y = b;
    int c = strcmp(x->tag, y->tag);
    if (c) return c;
    return x->id < y->id ? -1 : x->id > y->id;
}
static int cmp_int(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static uint64_t order_checksum(const Rec *r, int n) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) h = (h ^ r[i].id) * 1099511628211ull;
    return h;
}

static uint64_t int_checksum(const int32_t *v, int n, int *unsorted) {
    uint64_t h = 0;
    *unsorted = 0;
    for (int i = 0; i < n; i++) {
        h = h * 31 + (uint32_t)v[i];
        if (i && v[i - 1] > v[i]) (*unsorted)++;
    }
    return h;
}

/* Plain quicksort with median-of-three and insertion sort for short ranges. */
static void quicksort(double *v, int lo, int hi) {
    while (hi - lo > 16) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo]) { double t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
        if (v[hi] < v[lo]) { double t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
        if (v[hi] < v[mid]) { double t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
        double pivot = v[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                double t = v[i]; v[i] = v[j]; v[j] = t;
                i++;
                j--;
            }
        }
        /* recurse into the smaller side to bound stack depth */
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
    for (int i = lo + 1; i <= hi; i++) {
        double x = v[i];
        int j = i - 1;
        while (j >= lo && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 400000;
    if (n < 16) n = 16;
    Rec *recs = malloc(sizeof(Rec) * (size_t)n);
    for (int i = 0; i < n; i++) {
        recs[i].key = rnd() % (uint32_t)(n / 4 + 1); /* plenty of equal keys */
        recs[i].id = (uint32_t)i;
        recs[i].score = (double)(rnd() % 100000) / 7.0;
        uint32_t t = rnd();
        int len = 3 + (int)(t % 8);
        for (int k = 0; k < len; k++) {
            recs[i].tag[k] = (char)('a' + (t >> (k * 3)) % 7);
        }
        recs[i].tag[len] = '\0';
    }

    printf("sort records=%d\n", n);
    qsort(recs, (size_t)n, sizeof(Rec), by_key);
    printf("by key     %016llx first %u last %u\n", (unsigned long long)order_checksum(recs, n),
           recs[0].key, recs[n - 1].key);
    qsort(recs, (size_t)n, sizeof(Rec), by_score_desc);
    printf("by score   %016llx top %.4f\n", (unsigned long long)order_checksum(recs, n),
           recs[0].score);
    qsort(recs, (size_t)n, sizeof(Rec), by_tag);
    printf("by tag     %016llx first %s last %s\n", (unsigned long long)order_checksum(recs, n),
           recs[0].tag, recs[n - 1].tag);

    int32_t *v = malloc(sizeof(int32_t) * (size_t)n);
    const char *shapes[4] = {"random", "sorted", "reversed", "nearly"};
    for (int shape = 0; shape < 4; shape++) {
        for (int i = 0; i < n; i++) {
            switch (shape) {
            case 0: v[i] = (int32_t)rnd(); break;
            case 1: v[i] = i * 3; break;
            case 2: v[i] = (n - i) * 3; break;
            default: v[i] = i * 3 + (int32_t)(rnd() % 50); break;
            }
        }
        qsort(v, (size_t)n, sizeof(int32_t), cmp_int);
        int unsorted;
        uint64_t h = int_checksum(v, n, &unsorted);
        printf("ints %-8s %016llx unsorted %d\n", shapes[shape], (unsigned long long)h, unsorted);
    }
    /* v now holds the nearly-sorted shape, sorted: probe it with bsearch */
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int32_t probe = (int32_t)(rnd() % (uint32_t)(3 * n + 50));
        hits += bsearch(&probe, v, (size_t)n, sizeof(int32_t), cmp_int) != NULL;
    }
    printf("bsearch hits %d of %d\n", hits, n);

    double *d = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) d[i] = recs[i].score * (i & 1 ? -1.0 : 1.0);
    quicksort(d, 0, n - 1);
    double acc = 0.0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        acc += d[i] * (double)(i % 13);
        if (i && d[i - 1] > d[i]) bad++;
    }
    printf("quicksort doubles weighted %.6f min %.4f max %.4f unsorted %d\n", acc, d[0], d[n - 1],
           bad);
    free(recs);
    free(v);
    free(d);
    return 0;
}
