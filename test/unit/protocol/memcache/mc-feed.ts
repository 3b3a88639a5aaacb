// Test helper: feeds the memcached parser and scanner chunk by chunk exactly as the proxy does, checking their contracts.
// Never hides a violation: every broken invariant is recorded in `violations` for the test to assert empty.
import {
  MemcacheRequestParser,
  MemcacheReplyScanner,
  PARSE_INCOMPLETE,
  PARSE_ERROR,
  SCAN_INCOMPLETE,
  SCAN_ERROR,
  CMD_INVALID,
  commandName,
} from '../../../../src/protocol/memcache/index.ts';

export interface FeedOutcome {
  /** One line per frame or reply (see renderFrame). */
  items: string[];
  /** 'clean', 'incomplete' (a partial frame is pending), 'swallowing' (a refused data block is being discarded),
   * 'close: <reason>' (parser) or 'error' (scanner). */
  end: string;
  violations: string[];
}

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A cheap content hash for rendering long values. */
export function checksum(buf: Uint8Array, start: number, len: number): number {
  let h = 0;
  for (let i = start; i < start + len; i++) h = (Math.imul(h, 31) + buf[i]) >>> 0;
  return h;
}

/**
 * A frame as one readable line: "get a b", "set k <abc>", "ms k [q] O=12 <ab>", "mg aw== b64=6b",
 * "! CLIENT_ERROR bad data chunk [silent]" for a CMD_INVALID frame (its key, if kept, as " key=k").
 */
export function renderFrame(p: MemcacheRequestParser, buf: Uint8Array): string {
  const key = (i: number): string => Buffer.from(buf.buffer, buf.byteOffset + p.keyOff[i], p.keyLen[i]).toString('latin1');
  if (p.cmd === CMD_INVALID) {
    let s = `! ${p.errorMessage}`;
    if (p.noreply) s += ' [silent]';
    if (p.keyCount === 1) s += ` key=${key(0)}`;
    return s;
  }
  let s = commandName(p.cmd);
  for (let i = 0; i < p.keyCount; i++) s += ' ' + key(i);
  if (p.keyBinary) s += ' b64=' + Buffer.from(p.decodedKey.subarray(0, p.decodedKeyLen)).toString('hex');
  if (p.noreply) s += ' [noreply]';
  if (p.quiet) s += ' [q]';
  if (p.opaqueLen >= 0) s += ' O=' + Buffer.from(buf.buffer, buf.byteOffset + p.opaqueOff, p.opaqueLen).toString('latin1');
  if (p.dataLen >= 0) {
    s += p.dataLen <= 40
      ? ` <${Buffer.from(buf.buffer, buf.byteOffset + p.dataStart, p.dataLen).toString('latin1')}>`
      : ` <${p.dataLen} bytes #${checksum(buf, p.dataStart, p.dataLen).toString(16)}>`;
  }
  return s;
}

/** Split bytes into chunks at the given sorted cut offsets. */
export function cut(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= bytes.length) continue;
    out.push(Buffer.from(bytes.subarray(prev, c)));
    prev = c;
  }
  out.push(Buffer.from(bytes.subarray(prev)));
  return out;
}

/**
 * Parse every request in the chunks. After PARSE_INCOMPLETE the partial frame [frameStart, end) is copied to the
 * start of a new buffer with the next chunk appended, and parsing resumes at offset 0 of it.
 */
export function feedRequests(chunks: Uint8Array[], parser: MemcacheRequestParser = new MemcacheRequestParser()): FeedOutcome {
  const items: string[] = [];
  const violations: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let neededFloor = 0;
  for (const chunk of chunks) {
    const buf = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    pending = Buffer.alloc(0);
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      const r = parser.parse(buf, pos, end);
      if (r > 0) {
        const fs = parser.frameStart;
        if (r <= pos || r > end) violations.push(`frame end ${r} outside (${pos}, ${end}]`);
        if (fs < pos || fs >= r) violations.push(`frameStart ${fs} outside [${pos}, ${r})`);
        if (pos === 0 && fs === 0 && neededFloor > r) violations.push(`needed ${neededFloor} exceeded the frame's real length ${r}`);
        if (parser.lineEnd <= fs || parser.lineEnd > r) violations.push(`lineEnd ${parser.lineEnd} outside (${fs}, ${r}]`);
        for (let i = 0; i < parser.keyCount; i++) {
          const o = parser.keyOff[i];
          if (o < fs || o + parser.keyLen[i] > parser.lineEnd || parser.keyLen[i] <= 0) violations.push(`key ${i} outside its line`);
        }
        if (parser.cmd !== CMD_INVALID && parser.dataLen >= 0 && parser.dataStart + parser.dataLen + 2 !== r) {
          violations.push('data block does not end the frame');
        }
        if (parser.cmd !== CMD_INVALID && parser.dataLen < 0 && r !== parser.lineEnd) violations.push('frame without data is not its line');
        neededFloor = 0;
        items.push(renderFrame(parser, buf));
        pos = r;
      } else if (r === PARSE_INCOMPLETE) {
        const fs = parser.frameStart;
        if (fs < pos || fs > end) violations.push(`incomplete frameStart ${fs} outside [${pos}, ${end}]`);
        if (parser.needed <= end - fs) violations.push(`needed ${parser.needed} not above the ${end - fs} bytes present`);
        pending = Buffer.from(buf.subarray(fs, end));
        neededFloor = pending.length > 0 ? parser.needed : 0;
        break;
      } else if (r === PARSE_ERROR) {
        if (parser.errorMessage === '') violations.push('close without a reason');
        return { items, end: `close: ${parser.errorMessage}`, violations };
      } else {
        violations.push(`invalid return code ${r}`);
        return { items, end: 'invalid', violations };
      }
    }
  }
  const end = pending.length > 0 ? 'incomplete' : parser.swallowing > 0 ? 'swallowing' : 'clean';
  return { items, end, violations };
}

/**
 * Scan every reply in the chunks, each expected to be of the next kind in `kinds` (cycling), re-presenting a
 * partial reply at offset 0 of a new buffer as the proxy does. Items are the replies' bytes (latin1), with
 * "!" in front of an error reply.
 */
export function feedReplies(chunks: Uint8Array[], kinds: number[], scanner: MemcacheReplyScanner = new MemcacheReplyScanner()): FeedOutcome {
  const items: string[] = [];
  const violations: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let neededFloor = 0;
  let k = 0;
  for (const chunk of chunks) {
    const buf = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    pending = Buffer.alloc(0);
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      const r = scanner.scan(buf, pos, end, kinds[k % kinds.length]);
      if (r > 0) {
        if (r <= pos || r > end) violations.push(`reply end ${r} outside (${pos}, ${end}]`);
        if (pos === 0 && neededFloor > r) violations.push(`needed ${neededFloor} exceeded the reply's real length ${r}`);
        neededFloor = 0;
        items.push((scanner.isError ? '!' : '') + buf.subarray(pos, r).toString('latin1'));
        pos = r;
        k++;
      } else if (r === SCAN_INCOMPLETE) {
        if (scanner.needed <= end - pos) violations.push(`needed ${scanner.needed} not above the ${end - pos} bytes present`);
        pending = Buffer.from(buf.subarray(pos, end));
        neededFloor = scanner.needed;
        break;
      } else if (r === SCAN_ERROR) {
        return { items, end: 'error', violations };
      } else {
        violations.push(`invalid return code ${r}`);
        return { items, end: 'invalid', violations };
      }
    }
  }
  return { items, end: pending.length > 0 ? 'incomplete' : 'clean', violations };
}

/** Every cut position of a small input, or a sample of them (both ends dense) for a large one. */
export function splitPoints(length: number, dense = 4096): number[] {
  const out: number[] = [];
  if (length <= dense) {
    for (let k = 1; k < length; k++) out.push(k);
    return out;
  }
  for (let k = 1; k < 64; k++) out.push(k, length - k);
  for (let k = 64; k < length - 64; k += 997) out.push(k);
  return out.sort((x, y) => x - y);
}

/** A view of bytes that counts indexed reads, to prove work stays linear. */
export function countingView(bytes: Uint8Array): { view: Uint8Array; reads: () => number } {
  let reads = 0;
  const view = new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string' && prop.length > 0 && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) {
        reads++;
        return target[Number(prop)];
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { view, reads: () => reads };
}
