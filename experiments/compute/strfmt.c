/*
 * strfmt: string formatting and parsing (libc snprintf/strtod/strtol heavy).
 *
 * Simulates a text log/CSV pipeline: each record is formatted with snprintf
 * (%d, %u, %x, %f, %e, %g, %s, field widths and precisions) into a line,
 * lines are appended into a growing buffer, then the buffer is re-parsed
 * field by field with strtol/strtoul/strtod/strchr, and the parsed values are
 * checked against the originals. Also exercises strlen/memcpy/strcmp/strstr.
 *
 * argv[1]: number of records (default 300000). Output: byte counts, checksums of
 * the text and of the parsed numbers, and the number of round-trip mismatches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static uint64_t state = 0x853C49E6748FEA9Bull;
static uint32_t rand32(void) {
    /* PCG-style output from a 64-bit LCG */
    uint64_t old = state;
    state = old * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

static const char *const names[8] = {"alpha", "bravo", "charlie", "delta",
                                     "echo",  "foxtrot", "golf", "hotel-india"};

typedef struct {
    int32_t id;
    uint32_t flags;
    double price;
    double ratio;
    const char *name;
} Record;

static Record make_record(int i) {
    Record r;
    r.id = (int32_t)(rand32() % 2000000) - 1000000;
    r.flags = rand32();
    /* prices on a cent grid, ratios spanning many magnitudes */
    r.price = (double)(rand32() % 10000000) / 100.0;
    r.ratio = (double)(rand32() % 1000000 + 1) / (double)(1u << (rand32() % 40));
    r.name = names[(i ^ (int)(r.flags >> 7)) & 7];
    return r;
}

static uint32_t fnv(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 300000;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    Record *recs = malloc(sizeof(Record) * (size_t)(n > 0 ? n : 1));
    char line[256];

    for (int i = 0; i < n; i++) {
        Record r = make_record(i);
        recs[i] = r;
        int w = snprintf(line, sizeof line, "%7d|%08x|%.2f|%.17g|%-12s|%e|%5.1f%%\n", r.id,
                         r.flags, r.price, r.ratio, r.name, r.ratio * r.price, r.ratio * 100.0);
        if (w < 0 || (size_t)w >= sizeof line) {
            printf("line %d truncated\n", i);
            return 1;
        }
        if (len + (size_t)w + 1 > cap) {
            cap *= 2;
            text = realloc(text, cap);
        }
        memcpy(text + len, line, (size_t)w);
        len += (size_t)w;
    }
    text[len] = '\0';

    /* parse it back */
    int mismatches = 0, lines = 0, name_hits = 0;
    double price_sum = 0.0, ratio_sum = 0.0, product_sum = 0.0;
    int64_t id_sum = 0;
    uint32_t flag_xor = 0;
    char *p = text;
    while (*p) {
        char *end;
        long id = strtol(p, &end, 10);
        p = end + 1;
        unsigned long flags = strtoul(p, &end, 16);
        p = end + 1;
        double price = strtod(p, &end);
        p = end + 1;
        double ratio = strtod(p, &end);
        p = end + 1;
        char *bar = strchr(p, '|');
        size_t name_len = (size_t)(bar - p);
        while (name_len && p[name_len - 1] == ' ') name_len--;
        const Record *r = &recs[lines];
        if (id != r->id || (uint32_t)flags != r->flags || price != r->price || ratio != r->ratio ||
            strncmp(p, r->name, name_len) != 0 || r->name[name_len] != '\0')
            mismatches++;
        if (strstr(p, "charlie") == p) name_hits++;
        p = bar + 1;
        double product = strtod(p, &end);
        p = strchr(end, '\n') + 1;
        id_sum += id;
        flag_xor ^= (uint32_t)flags;
        price_sum += price;
        ratio_sum += ratio;
        product_sum += product;
        lines++;
    }

    /* reformat the sums through a second round of formatting and parsing */
    char summary[512];
    snprintf(summary, sizeof summary, "%.6f %.10g %.9e %lld %u", price_sum, ratio_sum, product_sum,
             (long long)id_sum, flag_xor);
    double again = strtod(summary, NULL);

    printf("strfmt records=%d\n", n);
    printf("text bytes %zu fnv %08x\n", len, fnv(text, len));
    printf("parsed %d lines, %d mismatches, %d charlie\n", lines, mismatches, name_hits);
    printf("summary %s\n", summary);
    printf("reparsed price sum %.3f length %zu\n", again, strlen(summary));
    free(text);
    free(recs);
    return 0;
}
