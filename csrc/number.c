/* number.c — JSON number literals: the grammar, the digits, and the correctly rounded value.
 *
 * The literal is read as w * 10^q, w holding its first 19 significant digits. Three tiers turn
 * that into a double: Clinger's exact double fast path, an exact 128-bit integer path for up to
 * 19 digits and |q| <= 27 (nearly every real-world number, GeoJSON coordinates included),
 * then glibc's correctly rounded strtod_l in the "C" locale, so a user's setlocale cannot change
 * '.'. Integer literals that fit int64_t are returned as integers. No Lua here: decode.c pushes. */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

typedef unsigned char uchar;

/* ---- conversion ----------------------------------------------------------------------------- */

__extension__ typedef unsigned __int128 u128;

/* Exact powers of ten representable as doubles (10^22 is the last one). */
/* clang-format off */
static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
/* clang-format on */

/* 5^k for k <= 27: the largest power of five below 2^63. */
/* clang-format off */
static const uint64_t pow5[28] = {
    1ULL, 5ULL, 25ULL, 125ULL,
    625ULL, 3125ULL, 15625ULL, 78125ULL,
    390625ULL, 1953125ULL, 9765625ULL, 48828125ULL,
    244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL,
    152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL,
    95367431640625ULL, 476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL,
    59604644775390625ULL, 298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL,
};
/* clang-format on */

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

/* mant * 2^e2, mant of 53 bits, rounded up by one unit when the bits cut off below it were more
 * than half a unit (`above_half`), or exactly half and mant is odd (`at_half`): ties to even. */
static double round_even(uint64_t mant, int above_half, int at_half, int e2)
{
    if (above_half || (at_half && (mant & 1))) {
        mant++;
        if (mant == (uint64_t)1 << 53) {
            mant >>= 1;
            e2++;
        }
    }
    return make_double(mant, e2);
}

/* m * 2^e2 for a 64-bit m >= 2^53 (the quotients of the division path), where `sticky` says
 * whether nonzero bits were already cut off below m. */
static double round_u64(uint64_t m, int sticky, int e2)
{
    int shift = 11 - __builtin_clzll(m);
    uint64_t rem = m & (((uint64_t)1 << shift) - 1), half = (uint64_t)1 << (shift - 1);

    return round_even(m >> shift, rem > half || (rem == half && sticky), rem == half && !sticky, e2 + shift);
}

/* (hi:lo) / d for hi < d: the quotient fits 64 bits; *rem gets the remainder. */
static uint64_t div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__) && !defined(LC_PORTABLE)
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

/* The same for a 128-bit m. */
static double round_u128(u128 m, int sticky, int e2)
{
    int bits = bit_length(m), shift;
    u128 rem, half;

    if (bits <= 53)
        return ldexp((double)(uint64_t)m, e2); /* exact (sticky is 0 here) */
    shift = bits - 53;
    rem = m & (((u128)1 << shift) - 1);
    half = (u128)1 << (shift - 1);
    return round_even((uint64_t)(m >> shift), rem > half || (rem == half && sticky), rem == half && !sticky,
                      e2 + shift);
}

/* Set *out to w * 10^q rounded to nearest, ties to even, when that can be done exactly with
 * 64/128-bit integer arithmetic (Clinger's case, or w < 2^64 and |q| <= 27); returns 0 when
 * the caller must use strtod. */
static int exact_value(uint64_t w, int q, double *out)
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
        if (__atomic_compare_exchange_n(&c_locale, &expected, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            loc = fresh;
        else {
            freelocale(fresh);
            loc = expected;
        }
    }
    return loc;
}

/* ---- the digits ---------------------------------------------------------------------------- */

/* Significant digits kept exactly; more are rare and go to strtod. */
#define MAX_DIGITS 19

/* clang-format off */
static const uint64_t pow10_u64[MAX_DIGITS + 1] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, 10000000000000000000ULL,
};
/* clang-format on */

/* Value of 8 ASCII digits. */
LC_ALWAYS_INLINE uint64_t eight_digits(const uchar *p)
{
#ifdef LC_DIGITS_IN_WORDS
    uint64_t v;

    memcpy(&v, p, 8);
    return lc_combine_digits(v - LC_ZEROS);
#else
    uint64_t r = 0;
    int i;

    for (i = 0; i < 8; i++)
        r = r * 10 + (uint64_t)(p[i] - '0');
    return r;
#endif
}

/* The run of digits at p: returns its end, with *value the number the digits make, exact for a
 * run of up to MAX_DIGITS digits (longer ones wrap, and the caller reads their first digits
 * again). Read 8 bytes at a time while 8 are left before `end`, a last part-digit chunk by
 * shifting its digits up, so that a coordinate's 17 digits take no loop over single digits;
 * only the last 7 bytes of a text (and a big-endian machine) go one digit at a time. */
LC_ALWAYS_INLINE const uchar *digit_run(const uchar *p, const uchar *end, uint64_t *value)
{
    uint64_t v = 0;

#ifdef LC_DIGITS_IN_WORDS
    while (end - p >= 8) {
        uint64_t chunk;
        int n;

        memcpy(&chunk, p, 8);
        n = lc_leading_digits(chunk);
        if (n == 8) {
            v = v * 100000000 + lc_combine_digits(chunk - LC_ZEROS);
            p += 8;
            continue;
        }
        if (n > 0)
            v = v * pow10_u64[n] + lc_leading_value(chunk, n);
        *value = v;
        return p + n;
    }
#endif
    for (; p < end && LC_IS_DIGIT(*p); p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *value = v;
    return p;
}

/* Value of n <= MAX_DIGITS digits. */
LC_ALWAYS_INLINE uint64_t digits_value(const uchar *p, size_t n)
{
    uint64_t v = 0;

    for (; n >= 8; n -= 8, p += 8)
        v = v * 100000000 + eight_digits(p);
    for (; n > 0; n--, p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static int nonzero_digit(const uchar *p, const uchar *e)
{
    for (; p < e; p++)
        if (*p != '0')
            return 1;
    return 0;
}

/* Correctly rounded value of the literal [s, e), by strtod_l in the C locale (it needs a
 * NUL-terminated copy). 0 when memory or the locale could not be had. */
static int strtod_value(const uchar *s, const uchar *e, double *out)
{
    char small[128], *buf = small;
    size_t len = (size_t)(e - s);
    locale_t loc = lc_c_locale();

    if (loc == (locale_t)0)
        return 0;
    if (len >= sizeof small && (buf = malloc(len + 1)) == NULL)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod_l(buf, NULL, loc); /* too large: +-HUGE_VAL (inf); too small: +-0.0 */
    if (buf != small)
        free(buf);
    return 1;
}

/* An exponent beyond this is 0 or infinity for any literal that fits in memory; stopping there
 * keeps q in range however many digits follow. */
#define MAX_EXPONENT 100000000000000000LL

/* w * 10^q when w has nd digits lies in [10^(q+nd-1), 10^(q+nd)), whatever digits were dropped:
 * at or above 10^309 it is infinity, below 10^-324 (under half the least subnormal) zero. */
static const uchar *beyond_doubles(lc_number *num, int neg, int huge, const uchar *after)
{
    num->is_integer = 0;
    num->value = huge ? HUGE_VAL : 0.0;
    if (neg)
        num->value = -num->value;
    return after;
}

static const uchar *fail(lc_number *n, const uchar *at, const char *what)
{
    n->error = what;
    n->error_at = at;
    n->out_of_memory = 0;
    return NULL;
}

/* The grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? read as w * 10^q,
 * w holding the first MAX_DIGITS significant digits (`dropped` says whether a
 * nonzero digit did not fit). */
const uchar *lc_number_parse(const uchar *p, const uchar *end, lc_number *num)
{
    const uchar *s = p, *ds;
    uint64_t w;
    int64_t q = 0; /* the digits' count bounds it, and the exponent saturates: no overflow */
    int neg = 0, nd, dropped = 0, is_int = 1;
    size_t n;
    double v;

    if (*p == '-') {
        neg = 1;
        if (++p == end)
            return fail(num, p, "unexpected end of input in number");
    }
    ds = p;
    if (*p == '0') {
        p++;
        w = 0;
    } else if (LC_IS_DIGIT(*p))
        p = digit_run(p, end, &w);
    else
        return fail(num, p, "invalid number");
    n = (size_t)(p - ds);
    if (n <= MAX_DIGITS)
        nd = w == 0 ? 0 : (int)n;
    else {
        w = digits_value(ds, MAX_DIGITS);
        nd = MAX_DIGITS;
        q = (int64_t)(n - MAX_DIGITS);
        dropped = nonzero_digit(ds + MAX_DIGITS, p);
    }
    if (p < end && *p == '.') {
        const uchar *fs = ++p, *fe;
        uint64_t fraction;
        size_t take;

        is_int = 0;
        if (p == end || !LC_IS_DIGIT(*p))
            return p == end ? fail(num, p, "unexpected end of input in number")
                            : fail(num, p, "invalid number: digit expected after '.'");
        fe = p = digit_run(p, end, &fraction);
        take = (size_t)(fe - fs);
        /* The commonest case: every digit fits, and none is a leading zero (of 0.05). */
        if ((w != 0 || *fs != '0') && take <= (size_t)(MAX_DIGITS - nd)) {
            w = w * pow10_u64[take] + fraction;
            nd += (int)take;
            q -= (int64_t)take;
        } else {
            if (w == 0) { /* leading zeros of 0.000123 are not significant */
                while (fs < fe && *fs == '0')
                    fs++;
                q -= fe - fs == 0 ? 0 : (int64_t)(fs - (ds + n + 1));
            }
            take = (size_t)(fe - fs);
            if (take > (size_t)(MAX_DIGITS - nd))
                take = (size_t)(MAX_DIGITS - nd);
            if (take > 0) {
                w = w * pow10_u64[take] + digits_value(fs, take);
                nd += (int)take;
                q -= (int64_t)take;
            }
            dropped |= nonzero_digit(fs + take, fe);
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        int64_t e = 0;

        is_int = 0;
        if (++p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !LC_IS_DIGIT(*p))
            return p == end ? fail(num, p, "unexpected end of input in number")
                            : fail(num, p, "invalid number: digit expected in exponent");
        do {
            if (e < MAX_EXPONENT)
                e = e * 10 + (*p - '0');
        } while (++p < end && LC_IS_DIGIT(*p));
        q += eneg ? -e : e;
    }
    if (w != 0 && (q + nd - 1 > 308 || q + nd < -324))
        return beyond_doubles(num, neg, q > 0, p);

    if (is_int && q == 0 && !(neg && w == 0)) {
        if (!neg && w <= (uint64_t)INT64_MAX) {
            num->is_integer = 1;
            num->integer = (int64_t)w;
            return p;
        }
        if (neg && w - 1 <= (uint64_t)INT64_MAX) {
            /* -w computed as -(w-1)-1 so that INT64_MIN does not overflow */
            num->is_integer = 1;
            num->integer = -(int64_t)(w - 1) - 1;
            return p;
        }
    }
    num->is_integer = 0;
    if (dropped || q < -1000 || q > 1000 || !exact_value(w, (int)q, &v)) {
        if (!strtod_value(s, p, &num->value)) {
            fail(num, s, "out of memory converting a number");
            num->out_of_memory = 1;
            return NULL;
        }
        return p;
    }
    num->value = neg ? -v : v;
    return p;
}
