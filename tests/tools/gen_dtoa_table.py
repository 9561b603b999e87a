#!/usr/bin/env python3
#  gen_dtoa_table.py - writes src/common/dtoa_table.h, the power-of-5 tables of wbi_dtoa (Ryu)
#  SPDX-License-Identifier: MIT
#
#  Usage: python3 tests/tools/gen_dtoa_table.py > src/common/dtoa_table.h
#  Python integers are exact, so every entry is computed, never typed. The
#  definitions are those of Ryu (Adams, PLDI 2018) with 125-bit multipliers,
#  each stored as {low 64 bits, high 64 bits}:
#    inv[i] = floor(2^(bitlen(5^i) - 1 + 125) / 5^i) + 1    for 0 <= i < 342
#    pow[i] = floor(5^i / 2^(bitlen(5^i) - 125))            for 0 <= i < 326
#  (a negative shift is an exact left shift), plus the three integer log
#  approximations wbi_dtoa uses, checked exactly here for every argument
#  below 1200. tests/unit/test_dtoa.c re-derives every entry and checks the
#  log helpers with its own C big-integer code, so a stale or hand-edited
#  table fails the unit test.
import sys

INV_BITS = 125
POW_BITS = 125
INV_SIZE = 342
POW_SIZE = 326
MASK64 = (1 << 64) - 1


def pow5bits(e):
    """The bit length of 5^e as wbi_dtoa computes it (must equal the exact one)."""
    return ((e * 1217359) >> 19) + 1


def inv_entry(i):
    p = 5**i
    assert p.bit_length() == pow5bits(i)
    v = (1 << (p.bit_length() - 1 + INV_BITS)) // p + 1
    assert v.bit_length() <= INV_BITS + 1
    return v


def pow_entry(i):
    p = 5**i
    assert p.bit_length() == pow5bits(i)
    s = p.bit_length() - POW_BITS
    v = p >> s if s >= 0 else p << -s
    assert v.bit_length() == POW_BITS
    return v


# The integer approximations wbi_dtoa uses for logarithms, emitted below as
# C functions. Each is checked exactly over more than the range wbi_dtoa uses
# (binary exponents e2 of -1076..969, so arguments below 1100).
HELPERS = """\
// Bit length of 5^e, i.e. floor(log2(5^e)) + 1, for 0 <= e < 1200.
static inline int32_t wbi_dtoa_pow5bits(int32_t e)
{
    return (int32_t)((((uint32_t)e) * 1217359u) >> 19) + 1;
}

// floor(log10(2^e)) for 0 <= e < 1200.
static inline uint32_t wbi_dtoa_log10_pow2(int32_t e)
{
    return (((uint32_t)e) * 78913u) >> 18;
}

// floor(log10(5^e)) for 0 <= e < 1200.
static inline uint32_t wbi_dtoa_log10_pow5(int32_t e)
{
    return (((uint32_t)e) * 732923u) >> 20;
}
"""


def check_helpers():
    for e in range(1200):
        assert ((e * 1217359) >> 19) + 1 == (5**e).bit_length()
        assert (e * 78913) >> 18 == len(str(2**e)) - 1
        assert (e * 732923) >> 20 == len(str(5**e)) - 1


def table(name, size, entry):
    out = ["static const uint64_t %s[%s_SIZE][2] = {" % (name, name)]
    row = []
    for i in range(size):
        v = entry(i)
        row.append("{0x%016xu, 0x%016xu}" % (v & MASK64, v >> 64))
        if len(row) == 2 or i == size - 1:
            out.append("    " + ", ".join(row) + ("," if i != size - 1 else ""))
            row = []
    out.append("};")
    return "\n".join(out)


def main():
    check_helpers()
    w = sys.stdout.write
    w("//  dtoa_table.h - power-of-5 multipliers for wbi_dtoa (Ryu), GENERATED: do not edit\n")
    w("//  SPDX-License-Identifier: MIT\n")
    w("//\n")
    w("//  Written by tests/tools/gen_dtoa_table.py (exact Python integers);\n")
    w("//  test_dtoa checks every entry against its own big-integer arithmetic.\n")
    w("//  Entry i is {low 64 bits, high 64 bits} of:\n")
    w("//    WBI_DTOA_POW5_INV[i] = floor(2^(bitlen(5^i) - 1 + %d) / 5^i) + 1\n" % INV_BITS)
    w("//    WBI_DTOA_POW5[i]     = floor(5^i / 2^(bitlen(5^i) - %d))\n" % POW_BITS)
    w("#ifndef WBI_DTOA_TABLE_H\n#define WBI_DTOA_TABLE_H\n\n#include <stdint.h>\n\n")
    w("#define WBI_DTOA_POW5_INV_BITCOUNT %d\n" % INV_BITS)
    w("#define WBI_DTOA_POW5_BITCOUNT %d\n" % POW_BITS)
    w("#define WBI_DTOA_POW5_INV_SIZE %d\n" % INV_SIZE)
    w("#define WBI_DTOA_POW5_SIZE %d\n\n" % POW_SIZE)
    w("// clang-format off\n")
    w(table("WBI_DTOA_POW5_INV", INV_SIZE, inv_entry) + "\n\n")
    w(table("WBI_DTOA_POW5", POW_SIZE, pow_entry) + "\n")
    w("// clang-format on\n\n")
    w(HELPERS + "\n")
    w("#endif\n")


if __name__ == "__main__":
    main()
