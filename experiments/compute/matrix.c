/*
 * matrix: dense double-precision linear algebra (float-heavy, array-heavy).
 *
 * Builds two N x N matrices from a fixed generator, multiplies them with a
 * cache-blocked i-k-j loop nest, solves a linear system by LU decomposition
 * with partial pivoting, and estimates the dominant eigenvalue of a symmetric
 * matrix by power iteration. Exercises f64 loads/stores with strided and
 * sequential access, address arithmetic, and tight counted loops.
 *
 * argv[1]: matrix order N (default 1000). Output: checksums of the product,
 * the solution residual and the eigenvalue estimate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>

#define BLOCK 32

static uint32_t lcg = 12345u;
/* A small LCG; values in [-1, 1) on a 1/32768 grid, the same on every libc. */
static double rnd(void) {
    lcg = lcg * 1664525u + 1013904223u;
    return (double)(int32_t)(lcg >> 16 & 0xFFFF) / 32768.0 - 1.0;
}

static double *alloc_matrix(int n) {
    double *m = malloc(sizeof(double) * (size_t)n * (size_t)n);
    if (!m) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return m;
}

/* C = A * B, blocked so that the working set of each tile stays in cache. */
static void matmul(int n, const double *a, const double *b, double *c) {
    for (int i = 0; i < n * n; i++) c[i] = 0.0;
    for (int ii = 0; ii < n; ii += BLOCK)
        for (int kk = 0; kk < n; kk += BLOCK)
            for (int jj = 0; jj < n; jj += BLOCK) {
                int imax = ii + BLOCK < n ? ii + BLOCK : n;
                int kmax = kk + BLOCK < n ? kk + BLOCK : n;
                int jmax = jj + BLOCK < n ? jj + BLOCK : n;
                for (int i = ii; i < imax; i++)
                    for (int k = kk; k < kmax; k++) {
                        double aik = a[i * n + k];
                        const double *brow = &b[k * n];
                        double *crow = &c[i * n];
                        for (int j = jj; j < jmax; j++) crow[j] += aik * brow[j];
                    }
            }
}

/* In-place LU with partial pivoting; returns 0 if singular. */
static int lu_decompose(int n, double *a, int *perm) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int k = 0; k < n; k++) {
        int p = k;
        double best = fabs(a[k * n + k]);
        for (int i = k + 1; i < n; i++) {
            double v = fabs(a[i * n + k]);
            if (v > best) {
                best = v;
                p = i;
            }
        }
        if (best == 0.0) return 0;
        if (p != k) {
            for (int j = 0; j < n; j++) {
                double t = a[k * n + j];
                a[k * n + j] = a[p * n + j];
                a[p * n + j] = t;
            }
            int t = perm[k];
            perm[k] = perm[p];
            perm[p] = t;
        }
        double inv = 1.0 / a[k * n + k];
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] * inv;
            a[i * n + k] = f;
            for (int j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
        }
    }
    return 1;
}

static void lu_solve(int n, const double *lu, const int *perm, const double *b, double *x) {
    for (int i = 0; i < n; i++) {
        double s = b[perm[i]];
        for (int j = 0; j < i; j++) s -= lu[i * n + j] * x[j];
        x[i] = s;
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = x[i];
        for (int j = i + 1; j < n; j++) s -= lu[i * n + j] * x[j];
        x[i] = s / lu[i * n + i];
    }
}

/* Power iteration on S = A^T A (symmetric positive semi-definite). */
static double dominant_eigenvalue(int n, const double *a, int iters) {
    double *v = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n),
           *t = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) v[i] = 1.0;
    double lambda = 0.0;
    for (int it = 0; it < iters; it++) {
        for (int i = 0; i < n; i++) { /* t = A v */
            double s = 0.0;
            for (int j = 0; j < n; j++) s += a[i * n + j] * v[j];
            t[i] = s;
        }
        for (int j = 0; j < n; j++) w[j] = 0.0; /* w = A^T t */
        for (int i = 0; i < n; i++) {
            double ti = t[i];
            for (int j = 0; j < n; j++) w[j] += a[i * n + j] * ti;
        }
        double norm = 0.0, dot = 0.0;
        for (int i = 0; i < n; i++) {
            norm += w[i] * w[i];
            dot += w[i] * v[i];
        }
        norm = sqrt(norm);
        double vv = 0.0;
        for (int i = 0; i < n; i++) vv += v[i] * v[i];
        lambda = dot / vv;
        for (int i = 0; i < n; i++) v[i] = w[i] / norm;
    }
    free(v);
    free(w);
    free(t);
    return lambda;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    double *a = alloc_matrix(n), *b = alloc_matrix(n), *c = alloc_matrix(n);
    for (int i = 0; i < n * n; i++) a[i] = rnd();
    for (int i = 0; i < n * n; i++) b[i] = rnd();

    matmul(n, a, b, c);
    double trace = 0.0, csum = 0.0;
    for (int i = 0; i < n; i++) trace += c[i * n + i];
    for (int i = 0; i < n * n; i++) csum += c[i] * (double)((i % 7) + 1);

    /* Solve C x = rhs, with rhs chosen so that the exact answer is x[i] = 1. */
    double *rhs = malloc(sizeof(double) * n), *x = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < n; j++) s += c[i * n + j];
        rhs[i] = s;
    }
    double *lu = alloc_matrix(n);
    for (int i = 0; i < n * n; i++) lu[i] = c[i];
    int *perm = malloc(sizeof(int) * n);
    int ok = lu_decompose(n, lu, perm);
    double maxerr = 0.0, xsum = 0.0;
    if (ok) {
        lu_solve(n, lu, perm, rhs, x);
        for (int i = 0; i < n; i++) {
            double e = fabs(x[i] - 1.0);
            if (e > maxerr) maxerr = e;
            xsum += x[i];
        }
    }
    double lambda = dominant_eigenvalue(n, a, 30);

    printf("matrix n=%d\n", n);
    printf("product trace %.6f weighted sum %.6f\n", trace, csum);
    printf("lu %s solution sum %.9f max error %.3e\n", ok ? "ok" : "singular", xsum, maxerr);
    printf("dominant eigenvalue of A^T A %.9g\n", lambda);
    free(a);
    free(b);
    free(c);
    free(lu);
    free(rhs);
    free(x);
    free(perm);
    return 0;
}
