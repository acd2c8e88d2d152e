/*
 * simd: loops that compilers vectorise (built with -msimd128 for wasm, so the
 * wasm build uses v128 instructions; natively gcc -O2 vectorises for SSE2).
 *
 *   - 8-bit image work: a 3x3 box blur (u8 -> u16 sums -> u8), alpha blending
 *     (u8 x u8 >> 8), saturating brightness, a thresholded mask count;
 *   - 32-bit integer work: element-wise multiply-add, min/max clamping, xorshift
 *     mixing and an integer checksum (integer sums reassociate exactly);
 *   - f32 element-wise work: saxpy and a polynomial per element (no float
 *     reductions, which a compiler may only vectorise by reordering the sum:
 *     results stay bit-identical between the native and wasm builds).
 *
 * Usage: simd ROUNDS   (prints checksums; the output is deterministic)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 512
#define H 256
#define N (64 * 1024)

static uint8_t img[H][W], tmp[H][W], out[H][W], alpha[H][W];
static int32_t ia[N], ib[N], ic[N];
static float fa[N], fb[N], fc[N];

static uint32_t rng = 2463534242u;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void blur(uint8_t dst[H][W], uint8_t src[H][W])
{
    for (int y = 1; y < H - 1; y++) {
        for (int x = 1; x < W - 1; x++) {
            uint16_t s = (uint16_t)(src[y - 1][x - 1] + src[y - 1][x] + src[y - 1][x + 1]);
            s = (uint16_t)(s + src[y][x - 1] + src[y][x] + src[y][x + 1]);
            s = (uint16_t)(s + src[y + 1][x - 1] + src[y + 1][x] + src[y + 1][x + 1]);
            dst[y][x] = (uint8_t)((s * 7282u) >> 16); /* s / 9, rounded down for s <= 2295 */
        }
    }
}

static void blend(uint8_t dst[H][W], uint8_t a[H][W], uint8_t b[H][W], uint8_t k[H][W])
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            dst[y][x] = (uint8_t)((a[y][x] * k[y][x] + b[y][x] * (255 - k[y][x])) >> 8);
}

static void brighten(uint8_t dst[H][W], int add)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = dst[y][x] + add;
            dst[y][x] = (uint8_t)(v > 255 ? 255 : v);
        }
}

static uint32_t count_above(uint8_t src[H][W], uint8_t t)
{
    uint32_t n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            n += src[y][x] > t;
    return n;
}

static uint32_t image_sum(uint8_t src[H][W])
{
    uint32_t s = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            s += src[y][x] * (uint32_t)(x + 1);
    return s;
}

static uint32_t int_round(int r)
{
    for (int i = 0; i < N; i++) {
        int32_t v = ia[i] * 3 + ib[i] * (r + 1);
        v = v < -100000 ? -100000 : v;
        v = v > 100000 ? 100000 : v;
        ic[i] = v ^ (v >> 3) ^ (ib[i] << 2);
    }
    uint32_t s = 0;
    for (int i = 0; i < N; i++)
        s += (uint32_t)ic[i] * 2654435761u;
    for (int i = 0; i < N; i++)
        ia[i] = ic[i] >> 1;
    return s;
}

static void float_round(float k)
{
    for (int i = 0; i < N; i++)
        fc[i] = k * fa[i] + fb[i];
    for (int i = 0; i < N; i++) {
        float x = fc[i] * 0.001f;
        fa[i] = ((0.5f * x + 0.25f) * x - 0.125f) * x + fb[i] * 0.75f;
    }
}

static uint32_t float_bits_sum(void)
{
    uint32_t s = 0;
    for (int i = 0; i < N; i++) {
        uint32_t b;
        memcpy(&b, &fa[i], 4);
        s = s * 31 + b;
    }
    return s;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            img[y][x] = (uint8_t)next();
            alpha[y][x] = (uint8_t)(next() >> 8);
        }
    for (int i = 0; i < N; i++) {
        ia[i] = (int32_t)(next() % 20001) - 10000;
        ib[i] = (int32_t)(next() % 2001) - 1000;
        fa[i] = (float)((int32_t)(next() % 2001) - 1000) / 64.0f;
        fb[i] = (float)((int32_t)(next() % 2001) - 1000) / 128.0f;
    }
    uint32_t ci = 0, cimg = 0, nabove = 0;
    for (int r = 0; r < rounds; r++) {
        blur(tmp, img);
        blend(out, tmp, img, alpha);
        brighten(out, r & 7);
        nabove += count_above(out, 128);
        cimg = cimg * 33 + image_sum(out);
        memcpy(img, out, sizeof img);
        ci = ci * 33 + int_round(r);
        float_round(1.0f + (float)(r % 5) * 0.25f);
    }
    printf("image checksum %08x, pixels above 128: %u\n", cimg, nabove);
    printf("int checksum %08x\n", ci);
    printf("float checksum %08x\n", float_bits_sum());
    return 0;
}
