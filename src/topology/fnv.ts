// FNV hashes as Dynomite computes them (fnv1_64/fnv1a_64 truncated to 32 bits, fnv1_32/fnv1a_32 standard).
// Pure and allocation-free per call; never uses BigInt.

// The low 32 bits of a product mod 2^64 depend only on the low 32 bits of its factors, and XOR with a byte
// touches only the low word. So FNV-1 64 truncated to 32 bits is exactly 32-bit FNV-1 run with the low words
// of the 64-bit basis (0xcbf29ce484222325) and prime (0x100000001b3): the high word can never reach the result.
const FNV64_BASIS_LOW = 0x84222325;
const FNV64_PRIME_LOW = 0x1b3;
const FNV32_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** True 64-bit FNV-1 truncated to its low 32 bits (see the note above for why 32-bit math is exact). */
export function fnv1_64(buf: Uint8Array, start: number, end: number): number {
  let h = FNV64_BASIS_LOW;
  for (let i = start; i < end; i++) h = Math.imul(h, FNV64_PRIME_LOW) ^ buf[i];
  return h >>> 0;
}

/** Dynomite's fnv1a_64 is FNV-1a in 32-bit arithmetic with the low words of the 64-bit basis and prime. */
export function fnv1a_64(buf: Uint8Array, start: number, end: number): number {
  let h = FNV64_BASIS_LOW;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV64_PRIME_LOW);
  return h >>> 0;
}

export function fnv1_32(buf: Uint8Array, start: number, end: number): number {
  let h = FNV32_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h, FNV32_PRIME) ^ buf[i];
  return h >>> 0;
}

export function fnv1a_32(buf: Uint8Array, start: number, end: number): number {
  let h = FNV32_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], FNV32_PRIME);
  return h >>> 0;
}

// twemproxy reads the key through a signed char and widens it, so a byte >= 0x80 is XORed in sign-extended
// ((b << 24) >> 24). Dynomite's vectors show plain bytes. Placement agrees only for keys of bytes < 0x80.

export function twemproxyFnv1_64(buf: Uint8Array, start: number, end: number): number {
  let h = FNV64_BASIS_LOW;
  for (let i = start; i < end; i++) h = Math.imul(h, FNV64_PRIME_LOW) ^ ((buf[i] << 24) >> 24);
  return h >>> 0;
}

export function twemproxyFnv1a_64(buf: Uint8Array, start: number, end: number): number {
  let h = FNV64_BASIS_LOW;
  for (let i = start; i < end; i++) h = Math.imul(h ^ ((buf[i] << 24) >> 24), FNV64_PRIME_LOW);
  return h >>> 0;
}

export function twemproxyFnv1_32(buf: Uint8Array, start: number, end: number): number {
  let h = FNV32_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h, FNV32_PRIME) ^ ((buf[i] << 24) >> 24);
  return h >>> 0;
}

export function twemproxyFnv1a_32(buf: Uint8Array, start: number, end: number): number {
  let h = FNV32_BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ ((buf[i] << 24) >> 24), FNV32_PRIME);
  return h >>> 0;
}
