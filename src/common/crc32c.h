//  crc32c.h - CRC-32C (Castagnoli), the checksum of journal records
//  SPDX-License-Identifier: MIT
//
//  The iSCSI/ext4 polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final XOR
//  0xFFFFFFFF, so wbi_crc32c(0, "123456789", 9) == 0xE3069283. Uses the SSE4.2 instruction
//  (three interleaved streams joined with PCLMULQDQ) when the CPU has it, a table otherwise;
//  all give the same values. Thread: any (no state).
#ifndef WBI_CRC32C_H
#define WBI_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// Returns the CRC-32C of data[0..len) continued from crc, the value of an earlier call (0 to
// start): wbi_crc32c(wbi_crc32c(0, a, n), b, m) is the CRC of a followed by b.
uint32_t wbi_crc32c(uint32_t crc, const void *data, size_t len);
// The same with the table only (tests compare it with the hardware path).
uint32_t wbi_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
