/* number.c — decimal significand and exponent to a correctly rounded double.
 *
 * Owns the arithmetic only (decode.c checks the grammar). Three tiers: Clinger's
 * exact double fast path, an exact 128-bit integer path for up to 19 digits and
 * |exponent| <= 27 (covers nearly every real-world number), then glibc's correctly
 * rounded strtod_l in the "C" locale, so a user's setlocale cannot change '.'. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

__extension__ typedef unsigned __int128 u128;

/* Exact powers of ten representable as doubles (10^22 is the last one). */
static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 5^k for k <= 27: the largest power of five below 2^63. */
static const uint64_t pow5[28] = {
    1ULL, 5ULL, 25ULL, 125ULL,
    625ULL, 3125ULL, 15625ULL, 78125ULL,
    390625ULL, 1953125ULL, 9765625ULL, 48828125ULL,
    244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL,
    152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL,
    95367431640625ULL, 476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL,
    59604644775390625ULL, 298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL,
};

static int bit_length(u128 m)
{
    uint64_t hi = (uint64_t)(m >> 64), lo = (uint64_t)m;

    if (hi != 0)
        return 128 - __builtin_clzll(hi);
    return lo != 0 ? 64 - __builtin_clzll(lo) : 0;
}

/* mant * 2^e2 for a 53-bit mantissa (top bit set): assembled from its bits,
 * cheaper than ldexp; ldexp only if the result would not be a normal double. */
static double make_double(uint64_t mant, int e2)
{
    int biased = e2 + 52 + 1023;
    uint64_t bits;
    double d;

    if (biased < 1 || biased > 2046)
        return ldexp((double)mant, e2);
    bits = ((uint64_t)biased << 52) | (mant & (((uint64_t)1 << 52) - 1));
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The same for a 64-bit m >= 2^53 (the quotients of the division path). */
static double round_u64(uint64_t m, int sticky, int e2)
{
    int shift = 11 - __builtin_clzll(m);
    uint64_t mant = m >> shift, rem = m & (((uint64_t)1 << shift) - 1);
    uint64_t half = (uint64_t)1 << (shift - 1);

    if (rem > half || (rem == half && (sticky || (mant & 1)))) {
        mant++;
        if (mant == (uint64_t)1 << 53) {
            mant >>= 1;
            shift++;
        }
    }
    return make_double(mant, e2 + shift);
}

/* (hi:lo) / d for hi < d: the quotient fits 64 bits; *rem gets the remainder. */
static uint64_t div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
    uint64_t quot, r;

    __asm__("divq %4" : "=a"(quot), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
    *rem = r;
    return quot;
#else
    u128 n = ((u128)hi << 64) | lo;
    uint64_t quot = (uint64_t)(n / d);

    *rem = (uint64_t)(n - (u128)quot * d);
    return quot;
#endif
}

/* m * 2^e2 rounded to nearest-even, where `sticky` says whether nonzero bits
 * were already cut off below m. */
static double round_u128(u128 m, int sticky, int e2)
{
    int bits = bit_length(m), shift;
    uint64_t mant;
    u128 rem, half;

    if (bits <= 53)
        return ldexp((double)(uint64_t)m, e2); /* exact (sticky is 0 here) */
    shift = bits - 53;
    mant = (uint64_t)(m >> shift);
    rem = m & (((u128)1 << shift) - 1);
    half = (u128)1 << (shift - 1);
    if (rem > half || (rem == half && (sticky || (mant & 1)))) {
        mant++;
        if (mant == (uint64_t)1 << 53) {
            mant >>= 1;
            shift++;
        }
    }
    return make_double(mant, e2 + shift);
}

int lc_number_fast(uint64_t w, int q, double *out)
{
    if (w == 0) {
        *out = 0.0;
        return 1;
    }
    /* Clinger: both operands exact, so one IEEE operation rounds correctly. */
    if (w <= (uint64_t)1 << 53 && q >= -22 && q <= 22) {
        double d = (double)w;

        *out = q < 0 ? d / pow10_exact[-q] : d * pow10_exact[q];
        return 1;
    }
    if (q >= 0 && q <= 27) {
        /* w * 10^q = (w * 5^q) * 2^q, and w * 5^q < 2^127 is exact. */
        *out = round_u128((u128)w * pow5[q], 0, q);
        return 1;
    }
    if (q < 0 && q >= -27) {
        /* w / 10^k = ((w << s) / 5^k) * 2^(-s-k). s is chosen so that the
         * quotient lands in [2^62, 2^64): enough bits to round, and a 128/64
         * division whose quotient fits one machine word. The remainder is the
         * sticky bit. */
        int k = -q;
        uint64_t d = pow5[k];
        int s = bit_length(d) + 63 - bit_length(w);
        u128 n = (u128)w << s;
        uint64_t rem, quotient = div128((uint64_t)(n >> 64), (uint64_t)n, d, &rem);

        *out = round_u64(quotient, rem != 0, -s - k);
        return 1;
    }
    return 0;
}

locale_t lc_c_locale(void)
{
    static locale_t c_locale;
    locale_t loc = __atomic_load_n(&c_locale, __ATOMIC_ACQUIRE);

    if (loc == (locale_t)0) {
        locale_t fresh = newlocale(LC_ALL_MASK, "C", (locale_t)0), expected = (locale_t)0;

        if (fresh == (locale_t)0)
            return (locale_t)0;
        /* Another thread may have won the race: keep its locale, free ours. */
        if (__atomic_compare_exchange_n(&c_locale, &expected, fresh, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            loc = fresh;
        else {
            freelocale(fresh);
            loc = expected;
        }
    }
    return loc;
}

double lc_number_strtod(const char *text, int *ok)
{
    locale_t loc = lc_c_locale();

    *ok = loc != (locale_t)0;
    return *ok ? strtod_l(text, NULL, loc) : 0.0;
}
