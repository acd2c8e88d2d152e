/*
 * nbody: gravitational N-body simulation (float-heavy).
 *
 * A cluster of bodies with pseudo-random positions, velocities and masses is
 * integrated with a kick-drift-kick leapfrog scheme and Plummer softening.
 * Every step computes all N*(N-1)/2 pairwise forces, so the inner loop is
 * double-precision multiply/add/divide plus one sqrt per pair.
 *
 * argv[1]: number of time steps (default 25000). Output: energy and momentum
 * before and after, plus a checksum of the final positions. Only +,-,*,/ and
 * sqrt are used, all correctly rounded in IEEE 754, so native and wasm runs
 * print identical digits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>

#define NBODIES 96
#define SOFTENING2 1e-4
#define DT 1e-3

typedef struct {
    double x[NBODIES], y[NBODIES], z[NBODIES];
    double vx[NBODIES], vy[NBODIES], vz[NBODIES];
    double ax[NBODIES], ay[NBODIES], az[NBODIES];
    double m[NBODIES];
} System;

/* xorshift64*: a fixed generator so every libc produces the same bodies. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd_unit(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

static void init(System *s) {
    for (int i = 0; i < NBODIES; i++) {
        s->x[i] = rnd_unit() * 2.0 - 1.0;
        s->y[i] = rnd_unit() * 2.0 - 1.0;
        s->z[i] = (rnd_unit() * 2.0 - 1.0) * 0.1; /* a flattened disc */
        /* roughly circular motion around the origin */
        s->vx[i] = -s->y[i] * 0.5 + (rnd_unit() - 0.5) * 0.05;
        s->vy[i] = s->x[i] * 0.5 + (rnd_unit() - 0.5) * 0.05;
        s->vz[i] = (rnd_unit() - 0.5) * 0.01;
        s->m[i] = 0.5 / NBODIES + rnd_unit() * (1.0 / NBODIES);
    }
}

static void accelerations(System *s) {
    for (int i = 0; i < NBODIES; i++) {
        s->ax[i] = s->ay[i] = s->az[i] = 0.0;
    }
    for (int i = 0; i < NBODIES; i++) {
        double xi = s->x[i], yi = s->y[i], zi = s->z[i];
        double axi = 0.0, ayi = 0.0, azi = 0.0;
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = s->x[j] - xi, dy = s->y[j] - yi, dz = s->z[j] - zi;
            double d2 = dx * dx + dy * dy + dz * dz + SOFTENING2;
            double inv = 1.0 / (d2 * sqrt(d2));
            double fi = s->m[j] * inv, fj = s->m[i] * inv;
            axi += dx * fi;
            ayi += dy * fi;
            azi += dz * fi;
            s->ax[j] -= dx * fj;
            s->ay[j] -= dy * fj;
            s->az[j] -= dz * fj;
        }
        s->ax[i] += axi;
        s->ay[i] += ayi;
        s->az[i] += azi;
    }
}

static void step(System *s) {
    for (int i = 0; i < NBODIES; i++) {
        s->vx[i] += 0.5 * DT * s->ax[i];
        s->vy[i] += 0.5 * DT * s->ay[i];
        s->vz[i] += 0.5 * DT * s->az[i];
        s->x[i] += DT * s->vx[i];
        s->y[i] += DT * s->vy[i];
        s->z[i] += DT * s->vz[i];
    }
    accelerations(s);
    for (int i = 0; i < NBODIES; i++) {
        s->vx[i] += 0.5 * DT * s->ax[i];
        s->vy[i] += 0.5 * DT * s->ay[i];
        s->vz[i] += 0.5 * DT * s->az[i];
    }
}

static double energy(const System *s) {
    double e = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        e += 0.5 * s->m[i] *
             (s->vx[i] * s->vx[i] + s->vy[i] * s->vy[i] + s->vz[i] * s->vz[i]);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = s->x[j] - s->x[i], dy = s->y[j] - s->y[i],
                   dz = s->z[j] - s->z[i];
            e -= s->m[i] * s->m[j] / sqrt(dx * dx + dy * dy + dz * dz + SOFTENING2);
        }
    }
    return e;
}

static double momentum(const System *s) {
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NBODIES; i++) {
        px += s->m[i] * s->vx[i];
        py += s->m[i] * s->vy[i];
        pz += s->m[i] * s->vz[i];
    }
    return sqrt(px * px + py * py + pz * pz);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 25000;
    static System sys;
    init(&sys);
    accelerations(&sys);
    double e0 = energy(&sys), p0 = momentum(&sys);
    for (int t = 0; t < steps; t++) {
        step(&sys);
    }
    double e1 = energy(&sys), p1 = momentum(&sys);
    double sum = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        sum += sys.x[i] * (i + 1) + sys.y[i] * (i + 2) + sys.z[i] * (i + 3);
    }
    printf("nbody bodies=%d steps=%d\n", NBODIES, steps);
    printf("energy before %.12f after %.12f drift %g\n", e0, e1, (e1 - e0) / e0);
    printf("momentum before %.6e after %.6e\n", p0, p1);
    printf("checksum %.10f\n", sum);
    return 0;
}
