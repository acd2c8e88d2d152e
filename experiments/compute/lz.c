/*
 * lz: LZ77-style compression and decompression (byte-oriented, branchy code).
 *
 * Generates a semi-repetitive corpus (templated log lines and a synthetic
 * source-code-like text), compresses it with a greedy LZ77 matcher using a
 * hash table of chain heads plus a bounded chain walk, emits a byte-aligned
 * token stream (literal runs and (length, distance) pairs with varint
 * encoding), decompresses it with overlapping copies, and verifies the round
 * trip. Exercises byte loads/stores, unpredictable branches, memcmp/memcpy
 * and 16/32-bit loads.
 *
 * argv[1]: corpus size in KiB (default 24000). Output: sizes, ratio, checksums.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#define HASH_BITS 15
#define WINDOW (1 << 16)
#define MIN_MATCH 4
#define MAX_MATCH 258
#define MAX_CHAIN 32

static uint32_t rs = 1u;
static uint32_t rnd(void) {
    rs = rs * 1103515245u + 12345u;
    return rs >> 8;
}

static size_t append(uint8_t *dst, size_t pos, size_t cap, const char *s) {
    while (*s && pos < cap) dst[pos++] = (uint8_t)*s++;
    return pos;
}

static void make_corpus(uint8_t *buf, size_t n) {
    static const char *levels[4] = {"INFO", "WARN", "DEBUG", "ERROR"};
    static const char *words[12] = {"request", "cache", "miss", "session", "opened", "closed",
                                    "timeout", "retry", "user", "bytes", "queue", "flushed"};
    static const char *code[6] = {"    if (x == NULL) {\n        return -1;\n    }\n",
                                  "    for (i = 0; i < n; i++) {\n",
                                  "        total += values[i] * weight;\n", "    }\n",
                                  "static int helper(const char *name, size_t len)\n{\n",
                                  "}\n\n"};
    size_t pos = 0;
    uint32_t t = 1000000;
    char tmp[96];
    while (pos < n) {
        uint32_t r = rnd();
        if (r % 5 == 0) {
            pos = append(buf, pos, n, code[r / 5 % 6]);
            continue;
        }
        t += r % 977;
        /* digits are formatted by hand to keep this phase free of printf */
        int k = 0;
        char digits[12];
        uint32_t v = t;
        do {
            digits[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        int j = 0;
        tmp[j++] = '[';
        while (k) tmp[j++] = digits[--k];
        tmp[j++] = ']';
        tmp[j++] = ' ';
        tmp[j] = '\0';
        pos = append(buf, pos, n, tmp);
        pos = append(buf, pos, n, levels[(r >> 4) % 4]);
        int nwords = 3 + (int)((r >> 6) % 6);
        for (int w = 0; w < nwords; w++) {
            pos = append(buf, pos, n, " ");
            pos = append(buf, pos, n, words[rnd() % 12]);
        }
        pos = append(buf, pos, n, "\n");
    }
}

static inline uint32_t hash4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static size_t put_varint(uint8_t *out, size_t o, uint32_t v) {
    while (v >= 0x80) {
        out[o++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[o++] = (uint8_t)v;
    return o;
}

static uint32_t get_varint(const uint8_t *in, size_t *i) {
    uint32_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
        b = in[(*i)++];
        v |= (uint32_t)(b & 0x7F) << shift;
        shift += 7;
    } while (b & 0x80);
    return v;
}

/* Token stream: varint(literal_count) literals varint(match_len - MIN_MATCH + 1 or 0) varint(dist). */
static size_t compress(const uint8_t *in, size_t n, uint8_t *out, uint32_t *matches) {
    int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
    int32_t *prev = malloc(sizeof(int32_t) * WINDOW);
    for (int i = 0; i < (1 << HASH_BITS); i++) head[i] = -1;
    size_t o = 0, i = 0, lit_start = 0;
    *matches = 0;
    while (i + MIN_MATCH <= n) {
        uint32_t h = hash4(in + i);
        int32_t cand = head[h];
        size_t best_len = 0, best_dist = 0;
        for (int chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++) {
            size_t dist = i - (size_t)cand;
            if (dist > WINDOW - 1) break;
            if (in[cand + best_len] == in[i + best_len]) {
                size_t len = 0, max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
                while (len < max && in[cand + len] == in[i + len]) len++;
                if (len > best_len) {
                    best_len = len;
                    best_dist = dist;
                    if (len == max) break;
                }
            }
            cand = prev[cand & (WINDOW - 1)];
        }
        prev[i & (WINDOW - 1)] = head[h];
        head[h] = (int32_t)i;
        if (best_len >= MIN_MATCH) {
            o = put_varint(out, o, (uint32_t)(i - lit_start));
            memcpy(out + o, in + lit_start, i - lit_start);
            o += i - lit_start;
            o = put_varint(out, o, (uint32_t)(best_len - MIN_MATCH + 1));
            o = put_varint(out, o, (uint32_t)best_dist);
            (*matches)++;
            /* insert the skipped positions so later matches can find them */
            for (size_t k = i + 1; k < i + best_len && k + MIN_MATCH <= n; k++) {
                uint32_t hk = hash4(in + k);
                prev[k & (WINDOW - 1)] = head[hk];
                head[hk] = (int32_t)k;
            }
            i += best_len;
            lit_start = i;
        } else {
            i++;
        }
    }
    o = put_varint(out, o, (uint32_t)(n - lit_start));
    memcpy(out + o, in + lit_start, n - lit_start);
    o += n - lit_start;
    o = put_varint(out, o, 0);
    free(head);
    free(prev);
    return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t lits = get_varint(in, &i);
        memcpy(out + o, in + i, lits);
        i += lits;
        o += lits;
        uint32_t code = get_varint(in, &i);
        if (code == 0) break;
        uint32_t len = code + MIN_MATCH - 1, dist = get_varint(in, &i);
        /* byte by byte: source and destination overlap when dist < len */
        const uint8_t *src = out + o - dist;
        for (uint32_t k = 0; k < len; k++) out[o + k] = src[k];
        o += len;
    }
    return o;
}

static uint32_t adler32(const uint8_t *p, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

int main(int argc, char **argv) {
    size_t kib = argc > 1 ? strtoul(argv[1], NULL, 10) : 24000;
    size_t n = kib * 1024;
    uint8_t *corpus = malloc(n + 8);
    uint8_t *packed = malloc(n + n / 64 + 64);
    uint8_t *unpacked = malloc(n + 8);
    make_corpus(corpus, n);
    uint32_t matches;
    size_t packed_len = compress(corpus, n, packed, &matches);
    size_t unpacked_len = decompress(packed, packed_len, unpacked);
    int ok = unpacked_len == n && memcmp(corpus, unpacked, n) == 0;
    printf("lz bytes=%zu\n", n);
    printf("compressed %zu bytes (%.2f%%), %u matches\n", packed_len,
           100.0 * (double)packed_len / (double)n, matches);
    printf("adler32 corpus %08x packed %08x\n", adler32(corpus, n), adler32(packed, packed_len));
    printf("round trip %s\n", ok ? "ok" : "FAILED");
    free(corpus);
    free(packed);
    free(unpacked);
    return ok ? 0 : 1;
}
