// Where the tokens a proxy removes before forwarding sit in a parsed request line: classic ` noreply` and the meta ` q` flag,
// and the `set` line a `cas` turns into for replicas. Pure: reads the parser's offsets and the buffer, allocates nothing.
import type { MemcacheRequest } from './request-fields.ts';

const NOREPLY = [0x20, 0x6e, 0x6f, 0x72, 0x65, 0x70, 0x6c, 0x79];
/** Length of " noreply". */
export const NOREPLY_CUT = NOREPLY.length;
/** Length of the " q" cut (or "q " when q is the first flag). */
export const QUIET_CUT = 2;

/** Offset of " noreply" at the end of the command line of the last frame, or -1. */
export function noreplyTokenStart(r: MemcacheRequest, buf: Uint8Array): number {
  let e = r.lineEnd - 1;
  if (buf[e] === 10) e--;
  if (buf[e] === 13) e--;
  while (buf[e] === 32) e--;
  const s = e + 1 - NOREPLY.length;
  if (s < r.frameStart) return -1;
  for (let i = 0; i < NOREPLY.length; i++) if (buf[s + i] !== NOREPLY[i]) return -1;
  return s;
}

/** Offset of the " q" flag token among the meta flags of the last frame, or -1. */
export function quietFlagStart(r: MemcacheRequest, buf: Uint8Array): number {
  for (let i = r.flagsStart; i < r.flagsEnd; i++) {
    if (buf[i] === 0x71 && (i === r.flagsStart || buf[i - 1] === 32) && (i + 1 === r.flagsEnd || buf[i + 1] === 32 || buf[i + 1] === 13)) {
      return buf[i - 1] === 32 ? i - 1 : i;
    }
  }
  return -1;
}

/**
 * For a `cas <key> <flags> <exptime> <bytes> <unique> [noreply]` frame: the offset where the space before <unique> starts, so
 * "set" + buf[cmdEnd, that) + CRLF + the data block is the same store without the compare. Returns -1 when the line is not so.
 * `cmdEnd` is written to out[0] (the byte after the command word).
 */
export function casUniqueStart(r: MemcacheRequest, buf: Uint8Array, out: Int32Array): number {
  let i = r.frameStart;
  while (buf[i] === 32) i++;
  while (i < r.lineEnd && buf[i] !== 32) i++;
  out[0] = i;
  // After the command word: key, flags, exptime, bytes; the next space starts the unique.
  for (let tok = 0; tok < 4; tok++) {
    while (i < r.lineEnd && buf[i] === 32) i++;
    if (i >= r.lineEnd) return -1;
    while (i < r.lineEnd && buf[i] !== 32 && buf[i] !== 13 && buf[i] !== 10) i++;
  }
  return i < r.lineEnd && buf[i] === 32 ? i : -1;
}
