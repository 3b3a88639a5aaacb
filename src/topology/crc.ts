// CRC hashes as Dynomite computes them: crc16 (XMODEM table, unmasked uint32 accumulator), crc32 (15 bits) and crc32a.
// Pure and allocation-free per call: the tables are built once when the module loads, never per key.

const CRC16_TABLE = new Int32Array(256);
const CRC32_TABLE = new Int32Array(256);

for (let i = 0; i < 256; i++) {
  let c16 = i << 8;
  for (let bit = 0; bit < 8; bit++) c16 = (c16 & 0x8000) !== 0 ? (c16 << 1) ^ 0x1021 : c16 << 1;
  CRC16_TABLE[i] = c16 & 0xffff;

  let c32 = i;
  for (let bit = 0; bit < 8; bit++) c32 = (c32 & 1) !== 0 ? (c32 >>> 1) ^ 0xedb88320 : c32 >>> 1;
  CRC32_TABLE[i] = c32;
}

/**
 * Dynomite's crc16: the low 16 bits are CRC-16/XMODEM, but the uint32 accumulator is never masked, so the
 * upper half keeps shifted leftovers and the full 32-bit word is what lands on the ring ("foo" -> 0x0C3CAF96).
 */
export function crc16(buf: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ buf[i]) & 0xff];
  return crc >>> 0;
}

function crc32Raw(buf: Uint8Array, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ buf[i]) & 0xff];
  return ~crc;
}

/** Dynomite's (and twemproxy's) crc32 keeps only 15 bits of the IEEE CRC: 0..32767. */
export function crc32(buf: Uint8Array, start: number, end: number): number {
  return (crc32Raw(buf, start, end) >>> 16) & 0x7fff;
}

/** The standard zlib/IEEE CRC-32, all 32 bits. */
export function crc32a(buf: Uint8Array, start: number, end: number): number {
  return crc32Raw(buf, start, end) >>> 0;
}
