/*
 * primes: integer arithmetic kernels (i32/i64 add, mul, div, rem, shifts).
 *
 * 1. A sieve of Eratosthenes over odd numbers in a byte array
 *    (byte loads/stores, strided inner loop).
 * 2. Deterministic Miller-Rabin on 32-bit candidates using 64-bit modular
 *    multiplication (i64.mul / i64.rem_u heavy), cross-checked with the sieve.
 * 3. Euler's totient summed with a binary GCD (count-trailing-zeros, shifts).
 * 4. Collatz stopping times (unpredictable branches, 64-bit arithmetic).
 *
 * argv[1]: sieve limit N (default 30000000). Output: counts and checksums.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static uint8_t *sieve_odd(uint32_t limit) {
    /* index i stands for the odd number 2*i+1 */
    uint32_t half = limit / 2 + 1;
    uint8_t *composite = calloc(half, 1);
    if (!composite) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (uint32_t i = 1; (2 * i + 1) * (uint64_t)(2 * i + 1) <= limit; i++) {
        if (composite[i]) continue;
        uint32_t p = 2 * i + 1;
        for (uint32_t j = (p * p) / 2; j < half; j += p) composite[j] = 1;
    }
    return composite;
}

static int is_prime_sieved(const uint8_t *composite, uint32_t n) {
    if (n < 2) return 0;
    if (n == 2) return 1;
    if (!(n & 1)) return 0;
    return !composite[n / 2];
}

static uint32_t powmod(uint32_t base, uint32_t exp, uint32_t mod) {
    uint64_t result = 1, b = base % mod;
    while (exp) {
        if (exp & 1) result = result * b % mod;
        b = b * b % mod;
        exp >>= 1;
    }
    return (uint32_t)result;
}

/* Bases 2, 7, 61 make Miller-Rabin exact for every n < 2^32. */
static int is_prime_mr(uint32_t n) {
    static const uint32_t bases[3] = {2, 7, 61};
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    uint32_t d = n - 1;
    int r = 0;
    while (!(d & 1)) {
        d >>= 1;
        r++;
    }
    for (int k = 0; k < 3; k++) {
        uint32_t a = bases[k];
        if (a % n == 0) continue;
        uint64_t x = powmod(a, d, n);
        if (x == 1 || x == n - 1) continue;
        int witness = 1;
        for (int i = 1; i < r; i++) {
            x = x * x % n;
            if (x == n - 1) {
                witness = 0;
                break;
            }
        }
        if (witness) return 0;
    }
    return 1;
}

static uint32_t gcd(uint32_t a, uint32_t b) {
    if (!a) return b;
    if (!b) return a;
    int shift = __builtin_ctz(a | b);
    a >>= __builtin_ctz(a);
    do {
        b >>= __builtin_ctz(b);
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << shift;
}

int main(int argc, char **argv) {
    uint32_t limit = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 30000000u;
    if (limit < 100) limit = 100;

    uint8_t *composite = sieve_odd(limit);
    uint32_t count = 1; /* the prime 2 */
    uint64_t sum = 2, xor_mix = 2;
    for (uint32_t i = 1; 2 * i + 1 <= limit; i++) {
        if (!composite[i]) {
            uint32_t p = 2 * i + 1;
            count++;
            sum += p;
            xor_mix = (xor_mix << 5 | xor_mix >> 59) ^ p;
        }
    }

    /* Miller-Rabin over a window of the sieve range plus large 32-bit numbers. */
    uint32_t window = limit / 16, mr_agree = 0, mr_big = 0;
    for (uint32_t n = limit - window; n <= limit; n++) {
        if (is_prime_mr(n) == is_prime_sieved(composite, n)) mr_agree++;
    }
    uint32_t big_low = 4294967295u - window / 4;
    for (uint32_t n = 4294967295u; n >= big_low; n -= 2) mr_big += is_prime_mr(n);

    /* Totient sum by brute-force gcd over a small square. */
    uint32_t tn = 100 + limit / 50000;
    uint64_t totient_sum = 0;
    for (uint32_t a = 1; a <= tn; a++)
        for (uint32_t b = 1; b <= tn; b++) totient_sum += gcd(a, b) == 1;

    /* Longest Collatz chain below limit/8. */
    uint32_t best_n = 1, best_len = 0;
    for (uint32_t n = 1; n < limit / 8; n++) {
        uint64_t x = n;
        uint32_t len = 0;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x >> 1;
            len++;
        }
        if (len > best_len) {
            best_len = len;
            best_n = n;
        }
    }

    printf("primes limit=%u\n", limit);
    printf("pi(limit) %u sum %llu mix %016llx\n", count, (unsigned long long)sum,
           (unsigned long long)xor_mix);
    printf("miller-rabin agrees on %u of %u, primes in the top %u below 2^32: %u\n", mr_agree, window + 1, window / 4, mr_big);
    printf("coprime pairs in [1,%u]^2: %llu\n", tn, (unsigned long long)totient_sum);
    printf("longest collatz below %u: n=%u steps=%u\n", limit / 8, best_n, best_len);
    free(composite);
    return 0;
}
