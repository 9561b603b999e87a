//  test_dtoa.c - wbi_dtoa: shortest round-trip digits, %g layout, its tables
//  SPDX-License-Identifier: MIT
//
//  Every value is checked four ways: strtod reads the text back to the same
//  bits; no decimal with one digit fewer reads back (both neighbours of the
//  rounded one are tried, so this is the true shortest, not just %.{n-1}g);
//  when %.{n}g reads back, it has our digits (we are the nearest); and the
//  old %.15g..%.17g loop never had fewer digits, and had our bytes whenever
//  it had our digits.
#include "common/dtoa.h"
#include "common/dtoa_table.h"
#include "common/jsonx.h"
#include "testutil.h"

#include <float.h>
#include <math.h>

typedef struct {
    size_t values;        // values checked
    size_t old_longer;    // the old loop wrote more digits than we do
    size_t rounded_fails; // %.{n}g does not read back but our n digits do
} s_tally_t;

// The old wbi_jsonx_put_double body (before the ".0" rule), as the reference.
static int s_old_loop(double d, char *tmp, size_t size)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, size, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    return n;
}

// Copies the significant digits of the number text s (no sign, point,
// exponent, leading or trailing zeros) to digs and returns how many.
static int s_sig_digits(const char *s, char *digs)
{
    int n = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s < '0' || *s > '9' || (n == 0 && *s == '0'))
            continue;
        digs[n++] = *s;
    }
    while (n > 0 && digs[n - 1] == '0')
        n--;
    digs[n] = '\0';
    return n;
}

// True when s is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
static bool s_is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        while (*s >= '0' && *s <= '9')
            s++;
    } else {
        return false;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

// True when the text s reads back (strtod) to exactly the bits of d.
static bool s_reads_back(const char *s, double d)
{
    char *end;
    double r = strtod(s, &end);
    return *end == '\0' && memcmp(&r, &d, sizeof d) == 0;
}

// Fails unless no decimal with digits - 1 significant digits reads back to d.
// The candidates nearest d on either side are among M - 1, M, M + 1 where M
// is d rounded to digits - 1 digits, so trying those three is exhaustive.
static void s_check_no_shorter(double d, int digits)
{
    if (digits <= 1)
        return;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*e", digits - 2, fabs(d));
    char digs[32];
    int n = s_sig_digits(tmp, digs);
    int exp10 = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10) - (digits - 2);
    unsigned long long m = strtoull(digs, NULL, 10);
    for (int i = n; i < digits - 1; i++)
        m *= 10; // the zeros s_sig_digits dropped
    for (int delta = -1; delta <= 1; delta++) {
        snprintf(tmp, sizeof tmp, "%s%llue%d", d < 0 ? "-" : "", m + (unsigned long long)delta,
                 exp10);
        if (s_reads_back(tmp, d))
            WBT_FAIL("%.17g: %d digits, but %s reads back", d, digits, tmp);
    }
}

// Runs every check on one finite value.
static void s_check(double d, s_tally_t *t)
{
    char out[64];
    memset(out, 0x7f, sizeof out);
    size_t len = wbi_dtoa(d, out);
    if (len >= WBI_DTOA_BUFSIZE || strlen(out) != len || out[WBI_DTOA_BUFSIZE] != 0x7f)
        WBT_FAIL("%.17g: bad length %zu", d, len);
    if (!s_is_json_number(out))
        WBT_FAIL("%.17g: \"%s\" is not a JSON number", d, out);
    if (!s_reads_back(out, d))
        WBT_FAIL("%.17g: \"%s\" does not read back", d, out);
    char digs[32];
    int n = s_sig_digits(out, digs);
    if (n == 0) // zero
        n = 1;
    s_check_no_shorter(d, n);

    // Nearest: the correctly rounded n digits, when they read back, are ours.
    char tmp[64];
    char tdigs[32];
    snprintf(tmp, sizeof tmp, "%.*g", n, d);
    if (s_reads_back(tmp, d)) {
        s_sig_digits(tmp, tdigs);
        if (strcmp(tdigs, digs) != 0)
            WBT_FAIL("%.17g: \"%s\" but %%.%dg gives \"%s\"", d, out, n, tmp);
    } else {
        t->rounded_fails++;
    }

    // Never longer than the old loop; the same bytes when it found our digits.
    s_old_loop(d, tmp, sizeof tmp);
    int old_n = s_sig_digits(tmp, tdigs);
    if (old_n < n && d != 0)
        WBT_FAIL("%.17g: \"%s\" is longer than the old \"%s\"", d, out, tmp);
    if (strcmp(tdigs, digs) == 0 || d == 0) {
        if (strcmp(tmp, out) != 0)
            WBT_FAIL("%.17g: \"%s\" but the old loop wrote \"%s\"", d, out, tmp);
    } else {
        t->old_longer++;
    }
    t->values++;
}

// xorshift64*: a fixed-seed source of bit patterns.
static uint64_t s_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

// Reinterprets 64 bits as a double.
static double s_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

// Prints what a sweep saw, for the log.
static void s_report(const char *what, const s_tally_t *t)
{
    fprintf(stderr, "   %s: %zu values, old loop longer on %zu, %%.{n}g not round-trip on %zu\n",
            what, t->values, t->old_longer, t->rounded_fails);
}

// Checks wbi_dtoa against a fixed list, text included.
static void test_known_values(void)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {5e-324, "5e-324"},
        {4.9e-324, "5e-324"},
        {-5e-324, "-5e-324"},
        {1e-323, "1e-323"},
        {2.2250738585072009e-308, "2.225073858507201e-308"}, // largest subnormal
        {DBL_MIN, "2.2250738585072014e-308"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-1.7976931348623157e308, "-1.7976931348623157e+308"},
        {0.1, "0.1"},
        {0.2, "0.2"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {9007199254740992.0, "9007199254740992"}, // 2^53
        {9007199254740994.0, "9007199254740994"}, // 2^53 + 2
        {(double)9007199254740993LL, "9007199254740992"},
        {18014398509481984.0, "18014398509481984"}, // 2^54: 17 digits, X = 16 < P
        {123456789012345680.0, "1.2345678901234568e+17"},
        {1e14, "100000000000000"},
        {123456789012345.0, "123456789012345"},
        {1234567890123456.0, "1234567890123456"},
        {1e15, "1e+15"},
        {9.0608011534336e15, "9.0608011534336e+15"},
        {1e21, "1e+21"},
        {1e22, "1e+22"},
        {1e23, "1e+23"},
        {1e100, "1e+100"},
        {1e-100, "1e-100"},
        {1.5e-7, "1.5e-07"},
        {0.0001, "0.0001"},
        {0.00012345, "0.00012345"},
        {1e-5, "1e-05"},
        {100.0, "100"},
        {3.0, "3"},
        {-1.5, "-1.5"},
        {-2.5e-300, "-2.5e-300"},
        {1.2345678, "1.2345678"},
        {2.98023223876953125e-8, "2.9802322387695312e-08"}, // 2^-25: a tie, to even
        {1.8531501765868567e21, "1.8531501765868567e+21"},
        {-3.347727380279489e33, "-3.347727380279489e+33"},
        {1.9430376160308388e16, "19430376160308388"},
        {-6.9741824662760956e19, "-6.9741824662760956e+19"},
        {4.3816050601147837e18, "4.3816050601147837e+18"},
        {4.940656e-318, "4.940656e-318"},
        {1.18575755e-316, "1.18575755e-316"},
        {2.989102097996e-312, "2.989102097996e-312"},
        {5.764607523034235e39, "5.764607523034235e+39"},
        {1.152921504606847e40, "1.152921504606847e+40"},
        {2.305843009213694e40, "2.305843009213694e+40"},
        {1.7800590868057611e-307, "1.7800590868057611e-307"},
        {2.8480945388892175e-306, "2.8480945388892175e-306"},
        {2.446494580089078e-296, "2.446494580089078e-296"},
        {4.8929891601781557e-296, "4.8929891601781557e-296"},
        {3.196104012172126e-27, "3.196104012172126e-27"},
        {0x1p-1017, "7.120236347223045e-307"}, // the old loop wrote 17 digits
    };
    s_tally_t t = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[WBI_DTOA_BUFSIZE];
        size_t len = wbi_dtoa(cases[i].d, out);
        CHECK_STREQ(out, cases[i].want);
        CHECK_EQ(len, strlen(cases[i].want));
        s_check(cases[i].d, &t);
    }
    // Outside the contract, but spelled like jsonx rather than left undefined.
    char out[WBI_DTOA_BUFSIZE];
    CHECK_EQ(wbi_dtoa(NAN, out), 3);
    CHECK_STREQ(out, "NaN");
    wbi_dtoa(-INFINITY, out);
    CHECK_STREQ(out, "-Infinity");
}

// wbi_jsonx_put_double keeps its NaN/Infinity tokens and ".0" rule.
static void test_jsonx_put_double(void)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {3.0, "3.0"},           {100.0, "100.0"},
        {-0.0, "-0.0"},         {1e14, "100000000000000.0"},
        {1e15, "1e+15"},        {0.1, "0.1"},
        {5e-324, "5e-324"},     {NAN, "NaN"},
        {INFINITY, "Infinity"}, {-INFINITY, "-Infinity"},
        {1.5e-7, "1.5e-07"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wbi_buf_t b;
        wbi_buf_init(&b, 64);
        CHECK_OK(wbi_jsonx_put_double(&b, cases[i].d));
        CHECK_STREQ(b.data, cases[i].want);
        wbi_buf_release(&b);
    }
}

// 2.5 million random bit patterns (non-finite skipped).
static void test_random_bits(void)
{
    uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
    s_tally_t t = {0};
    for (int i = 0; i < 2500000; i++) {
        double d = s_from_bits(s_rand(&state));
        if (isfinite(d))
            s_check(d, &t);
    }
    CHECK(t.values > 2000000);
    s_report("random bits", &t);
}

// Values metrics really take: k/1000, k*1e-7, decaying losses, rates, integers.
static void test_nice_values(void)
{
    s_tally_t t = {0};
    for (int k = -1000; k < 400000; k++) {
        s_check(k / 1000.0, &t);
        s_check(k * 1e-7, &t);
    }
    for (int k = 0; k < 200000; k++) {
        s_check(2.5 * exp(-k / 10000.0) + 0.01, &t);
        s_check(1e-3 * pow(0.9999, k), &t);
        s_check((double)k, &t);
        s_check(1.0 / (k + 1), &t);
        s_check((double)k * 1e-5 * 100.0, &t);
    }
    s_report("nice values", &t);
}

// Every power of two and of ten, with neighbours: the interval edge cases.
static void test_boundaries(void)
{
    s_tally_t t = {0};
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1.0, e);
        double d = p;
        for (int i = 0; i < 3; i++, d = nextafter(d, INFINITY))
            s_check(d, &t);
        d = nextafter(p, 0.0);
        for (int i = 0; i < 2 && d > 0; i++, d = nextafter(d, 0.0))
            s_check(d, &t);
    }
    for (int e = -323; e <= 308; e++) {
        char tmp[16];
        snprintf(tmp, sizeof tmp, "1e%d", e);
        double p = strtod(tmp, NULL);
        s_check(p, &t);
        s_check(nextafter(p, INFINITY), &t);
        s_check(nextafter(p, 0.0), &t);
    }
    // Every subnormal significand with one set bit plus the low end.
    for (uint64_t m = 1; m < 100000; m++)
        s_check(s_from_bits(m), &t);
    for (uint64_t m = 1; m < (UINT64_C(1) << 52); m <<= 1)
        s_check(s_from_bits(m | (m - 1)), &t);
    s_check(DBL_MAX, &t);
    s_check(nextafter(DBL_MAX, 0.0), &t);
    s_report("boundaries", &t);
}

// A fixed-size unsigned big integer, 32-bit words, least significant first.
#define S_BN_WORDS 96
typedef struct {
    uint32_t w[S_BN_WORDS]; // words, little-endian
} s_bn_t;

// Sets a to the 128-bit value {lo, hi}.
static void s_bn_set128(s_bn_t *a, uint64_t lo, uint64_t hi)
{
    memset(a, 0, sizeof *a);
    a->w[0] = (uint32_t)lo;
    a->w[1] = (uint32_t)(lo >> 32);
    a->w[2] = (uint32_t)hi;
    a->w[3] = (uint32_t)(hi >> 32);
}

// a *= m; fails on overflow.
static void s_bn_mul_small(s_bn_t *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < S_BN_WORDS; i++) {
        uint64_t v = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)v;
        carry = v >> 32;
    }
    CHECK(carry == 0);
}

// out = a * b (schoolbook); fails on overflow.
static void s_bn_mul(const s_bn_t *a, const s_bn_t *b, s_bn_t *out)
{
    uint64_t acc[2 * S_BN_WORDS] = {0};
    for (int i = 0; i < S_BN_WORDS; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < S_BN_WORDS; j++) {
            uint64_t v = (uint64_t)a->w[i] * b->w[j] + acc[i + j] + carry;
            acc[i + j] = (uint32_t)v;
            carry = v >> 32;
        }
        acc[i + S_BN_WORDS] += carry;
    }
    for (int i = 0; i < S_BN_WORDS; i++)
        out->w[i] = (uint32_t)acc[i];
    for (int i = S_BN_WORDS; i < 2 * S_BN_WORDS; i++)
        CHECK(acc[i] == 0);
}

// a <<= bits; fails on overflow.
static void s_bn_shl(s_bn_t *a, int bits)
{
    for (; bits > 0; bits--) {
        CHECK((a->w[S_BN_WORDS - 1] >> 31) == 0);
        for (int i = S_BN_WORDS - 1; i > 0; i--)
            a->w[i] = (a->w[i] << 1) | (a->w[i - 1] >> 31);
        a->w[0] <<= 1;
    }
}

// Number of significant bits of a.
static int s_bn_bitlen(const s_bn_t *a)
{
    for (int i = S_BN_WORDS - 1; i >= 0; i--) {
        if (a->w[i]) {
            int b = 32;
            while (!(a->w[i] >> (b - 1)))
                b--;
            return i * 32 + b;
        }
    }
    return 0;
}

// Returns -1, 0 or 1 as a <, == or > b.
static int s_bn_cmp(const s_bn_t *a, const s_bn_t *b)
{
    for (int i = S_BN_WORDS - 1; i >= 0; i--) {
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    }
    return 0;
}

// Number of decimal digits of a (a > 0), by dividing out 10 at a time.
static int s_bn_decimal_len(const s_bn_t *a)
{
    s_bn_t x = *a;
    int n = 0;
    bool nonzero = true;
    while (nonzero) {
        uint64_t rem = 0;
        nonzero = false;
        for (int i = S_BN_WORDS - 1; i >= 0; i--) {
            uint64_t v = (rem << 32) | x.w[i];
            x.w[i] = (uint32_t)(v / 10);
            rem = v % 10;
            nonzero |= x.w[i] != 0;
        }
        n++;
    }
    return n;
}

// Re-derives every table entry and log helper with exact big integers; the
// inverse entries are checked by multiplication, not the generator's division.
static void test_table(void)
{
    s_bn_t p5; // 5^i
    s_bn_t p2; // 2^i
    s_bn_set128(&p5, 1, 0);
    s_bn_set128(&p2, 1, 0);
    for (int i = 0; i < 1200; i++) {
        int bits = s_bn_bitlen(&p5);
        CHECK_EQ(wbi_dtoa_pow5bits(i), bits);
        CHECK_EQ(wbi_dtoa_log10_pow5(i), s_bn_decimal_len(&p5) - 1);
        CHECK_EQ(wbi_dtoa_log10_pow2(i), s_bn_decimal_len(&p2) - 1);
        if (i < WBI_DTOA_POW5_INV_SIZE) {
            // (inv - 1) * 5^i <= 2^(bits - 1 + 125) < inv * 5^i
            s_bn_t two_j;
            s_bn_set128(&two_j, 1, 0);
            s_bn_shl(&two_j, bits - 1 + WBI_DTOA_POW5_INV_BITCOUNT);
            uint64_t lo = WBI_DTOA_POW5_INV[i][0];
            uint64_t hi = WBI_DTOA_POW5_INV[i][1];
            s_bn_t inv;
            s_bn_set128(&inv, lo, hi);
            s_bn_t upper;
            s_bn_mul(&inv, &p5, &upper);
            s_bn_set128(&inv, lo - 1, hi - (lo == 0));
            s_bn_t lower;
            s_bn_mul(&inv, &p5, &lower);
            if (!(s_bn_cmp(&lower, &two_j) <= 0 && s_bn_cmp(&two_j, &upper) < 0))
                WBT_FAIL("WBI_DTOA_POW5_INV[%d] is wrong", i);
        }
        if (i < WBI_DTOA_POW5_SIZE) {
            // entry * 2^s <= 5^i < (entry + 1) * 2^s, s = bits - 125 (exact if s < 0)
            int s = bits - WBI_DTOA_POW5_BITCOUNT;
            uint64_t lo = WBI_DTOA_POW5[i][0];
            uint64_t hi = WBI_DTOA_POW5[i][1];
            s_bn_t entry;
            s_bn_set128(&entry, lo, hi);
            s_bn_t next;
            s_bn_set128(&next, lo + 1, hi + (lo == UINT64_MAX));
            s_bn_t x = p5;
            if (s >= 0) {
                s_bn_shl(&entry, s);
                s_bn_shl(&next, s);
            } else {
                s_bn_shl(&x, -s);
            }
            bool ok = s >= 0 ? s_bn_cmp(&entry, &x) <= 0 && s_bn_cmp(&x, &next) < 0
                             : s_bn_cmp(&entry, &x) == 0;
            if (!ok)
                WBT_FAIL("WBI_DTOA_POW5[%d] is wrong", i);
        }
        s_bn_mul_small(&p5, 5);
        s_bn_mul_small(&p2, 2);
    }
}

WBT_MAIN({"table", test_table}, {"known_values", test_known_values},
         {"jsonx_put_double", test_jsonx_put_double}, {"boundaries", test_boundaries},
         {"nice_values", test_nice_values}, {"random_bits", test_random_bits})
