/* xoshiro256** random numbers seeded with splitmix64 (Blackman & Vigna),
 * and the distributions initializers and dropout need. */
#include "internal.h"
#include <ckeras/random.h>

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void kc_rng_seed(kc_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t kc_rng_next(kc_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double kc_rng_uniform(kc_rng *rng) { return (double)(kc_rng_next(rng) >> 11) * 0x1.0p-53; }

double kc_rng_normal(kc_rng *rng)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite */
    double u1 = 1.0 - kc_rng_uniform(rng), u2 = kc_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t kc_rng_below(kc_rng *rng, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = kc_rng_next(rng);
    while (r >= limit);
    return r % n;
}

void kc_rng_fill_uniform(kc_rng *rng, float *out, size_t n, float lo, float hi)
{
    double span = (double)hi - (double)lo;
    for (size_t i = 0; i < n; i++) out[i] = (float)(lo + span * kc_rng_uniform(rng));
}

void kc_rng_fill_normal(kc_rng *rng, float *out, size_t n, float mean, float stddev)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)(mean + stddev * kc_rng_normal(rng));
}

void kc_rng_fill_truncated_normal(kc_rng *rng, float *out, size_t n, float mean, float stddev)
{
    for (size_t i = 0; i < n; i++) {
        double z;
        do z = kc_rng_normal(rng);
        while (z < -2.0 || z > 2.0);
        out[i] = (float)(mean + stddev * z);
    }
}

static kc_rng global_rng;
static int global_seeded;

kc_rng *kc_global_rng(void)
{
    if (!global_seeded) {
        kc_rng_seed(&global_rng, 1337);
        global_seeded = 1;
    }
    return &global_rng;
}

void kc_set_random_seed(uint64_t seed)
{
    kc_rng_seed(&global_rng, seed);
    global_seeded = 1;
}
