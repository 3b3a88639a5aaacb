// Hash tag extraction: which bytes of a key are hashed, by Dynomite's rule or by twemproxy's.
// Pure and allocation-free: it reports offsets into the caller's buffer and never copies the key.

// Bounded scans on purpose: Uint8Array#indexOf cannot stop at `end` and would run on through the rest of a
// large socket chunk for every key that has no tag.
function findByte(buf: Uint8Array, from: number, end: number, byte: number): number {
  for (let i = from; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}

/**
 * Dynomite (redis_parse_req): tag_start = first tagLeft in the key, tag_end = first tagRight after it.
 * If both exist, out = [tag_start + 1, tag_end) and the result is true, even when that range is empty
 * (Dynomite hashes the empty tag of a multi-key fragment, and sends a single-key command to the local node).
 * Otherwise out = [start, end) (the whole key) and the result is false. tagLeft may equal tagRight ("##").
 */
export function hashTagRange(
  buf: Uint8Array, start: number, end: number, tagLeft: number, tagRight: number, out: Int32Array,
): boolean {
  const open = findByte(buf, start, end, tagLeft);
  if (open !== -1) {
    const close = findByte(buf, open + 1, end, tagRight);
    if (close !== -1) {
      out[0] = open + 1;
      out[1] = close;
      return true;
    }
  }
  out[0] = start;
  out[1] = end;
  return false;
}

/**
 * twemproxy (server_pool_idx): the same search, but an empty tag does not count, so "a{}b" hashes the whole key.
 * Returns true only when a non-empty tag was found.
 */
export function twemproxyHashTagRange(
  buf: Uint8Array, start: number, end: number, tagLeft: number, tagRight: number, out: Int32Array,
): boolean {
  const open = findByte(buf, start, end, tagLeft);
  if (open !== -1) {
    const close = findByte(buf, open + 1, end, tagRight);
    if (close > open + 1) {
      out[0] = open + 1;
      out[1] = close;
      return true;
    }
  }
  out[0] = start;
  out[1] = end;
  return false;
}
