// Test helper: feeds the RESP parser and scanner chunk by chunk exactly as the proxy does, checking their contracts.
// Never hides a violation: every broken invariant is recorded in `violations` for the test to assert empty.
import {
  RespRequestParser,
  RespReplyScanner,
  PARSE_INCOMPLETE,
  PARSE_ERROR,
  SCAN_INCOMPLETE,
  SCAN_ERROR,
} from '../../../../src/protocol/resp/index.ts';

export interface ParsedRequest {
  /** Arguments as latin1 strings (byte-exact). */
  args: string[];
  inline: boolean;
}

export interface FeedOutcome<T> {
  items: T[];
  /** 'clean' (nothing pending), 'incomplete' (a partial frame is pending), or 'error: <message>'. */
  end: string;
  violations: string[];
}

export interface ScannedReply {
  /** The reply's bytes as a latin1 string. */
  bytes: string;
  type: number;
  isError: boolean;
}

export function encodeCommand(args: (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
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
export function feedRequests(chunks: Uint8Array[], parser: RespRequestParser = new RespRequestParser()): FeedOutcome<ParsedRequest> {
  const items: ParsedRequest[] = [];
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
        if (r <= pos || r > end) violations.push(`frame end ${r} outside (${pos}, ${end}]`);
        if (parser.frameStart < pos || parser.frameStart >= r) violations.push(`frameStart ${parser.frameStart} outside [${pos}, ${r})`);
        if (pos === 0 && neededFloor > r) violations.push(`needed ${neededFloor} exceeded the frame's real length ${r}`);
        neededFloor = 0;
        if (parser.argc <= 0) violations.push('a frame with no arguments was returned');
        const args: string[] = [];
        for (let i = 0; i < parser.argc; i++) {
          const o = parser.argOff[i];
          const l = parser.argLen[i];
          if (o < 0 || l < 0 || o + l > parser.argBuf.length) violations.push(`arg ${i} out of its buffer`);
          if (!parser.inline && (parser.argBuf !== buf || o < parser.frameStart || o + l > r)) violations.push(`arg ${i} not inside its frame`);
          args.push(Buffer.from(parser.argBuf.buffer, parser.argBuf.byteOffset + o, l).toString('latin1'));
        }
        items.push({ args, inline: parser.inline });
        pos = r;
      } else if (r === PARSE_INCOMPLETE) {
        const fs = parser.frameStart;
        if (fs < pos || fs > end) violations.push(`incomplete frameStart ${fs} outside [${pos}, ${end}]`);
        if (parser.needed <= end - fs) violations.push(`needed ${parser.needed} not above the ${end - fs} bytes present`);
        pending = Buffer.from(buf.subarray(fs, end));
        neededFloor = parser.needed;
        break;
      } else if (r === PARSE_ERROR) {
        if (parser.errorMessage === '') violations.push('error without a message');
        return { items, end: `error: ${parser.errorMessage}`, violations };
      } else {
        violations.push(`invalid return code ${r}`);
        return { items, end: 'invalid', violations };
      }
    }
  }
  return { items, end: pending.length > 0 ? 'incomplete' : 'clean', violations };
}

/** Scan every reply in the chunks, re-presenting a partial reply at offset 0 of a new buffer as the proxy does. */
export function feedReplies(chunks: Uint8Array[], scanner: RespReplyScanner = new RespReplyScanner()): FeedOutcome<ScannedReply> {
  const items: ScannedReply[] = [];
  const violations: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let neededFloor = 0;
  for (const chunk of chunks) {
    const buf = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    pending = Buffer.alloc(0);
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      const r = scanner.scan(buf, pos, end);
      if (r > 0) {
        if (r <= pos || r > end) violations.push(`reply end ${r} outside (${pos}, ${end}]`);
        if (pos === 0 && neededFloor > r) violations.push(`needed ${neededFloor} exceeded the reply's real length ${r}`);
        neededFloor = 0;
        items.push({ bytes: buf.subarray(pos, r).toString('latin1'), type: scanner.type, isError: scanner.isError });
        pos = r;
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
  return out.sort((a, b) => a - b);
}

/** A Uint8Array that counts how many of its bytes were read through indexing. */
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
