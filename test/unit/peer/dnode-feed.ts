// Test helper: feeds DnodeParser chunk by chunk as a peer connection would (gathering a partial message), checking
// its contract. Never hides a violation: each broken invariant is recorded in `violations` for the test to assert.
import { DnodeParser, DNODE_ERROR, DNODE_INCOMPLETE } from '../../../src/protocol/dnode/index.ts';

export interface ParsedMessage {
  /** The whole message's bytes, hex. */
  hex: string;
  msgId: number;
  type: number;
  flags: number;
  version: number;
  sameDc: number;
  dataHex: string;
  payloadHex: string;
}

export interface DnodeFeedOutcome {
  messages: ParsedMessage[];
  /** 'clean', 'incomplete' or 'error: <message>'. */
  end: string;
  violations: string[];
  /** parse() calls made: a bound on it proves the parser never loops. */
  calls: number;
}

export function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= bytes.length) continue;
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function hex(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('hex');
}

/**
 * Parses every message in the chunks. After DNODE_INCOMPLETE the partial message [frameStart, end) is copied to
 * the start of a new buffer with the next chunk appended, and parsing resumes at offset 0 of it.
 */
export function feedDnode(chunks: readonly Uint8Array[], parser: DnodeParser = new DnodeParser()): DnodeFeedOutcome {
  const messages: ParsedMessage[] = [];
  const violations: string[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let neededFloor = 0;
  let calls = 0;
  for (const chunk of chunks) {
    const buf = new Uint8Array(pending.length + chunk.length);
    buf.set(pending);
    buf.set(chunk, pending.length);
    pending = new Uint8Array(0);
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      calls++;
      const r = parser.parse(buf, pos, end);
      if (r > 0) {
        if (r <= pos || r > end) violations.push(`message end ${r} outside (${pos}, ${end}]`);
        if (parser.frameStart !== pos) violations.push(`frameStart ${parser.frameStart} is not pos ${pos}`);
        if (pos === 0 && neededFloor > r) violations.push(`needed ${neededFloor} exceeded the message's real length ${r}`);
        neededFloor = 0;
        const { dataStart, dataLen, payloadStart, payloadLen } = parser;
        if (dataStart < pos || dataStart + dataLen > payloadStart || payloadStart + payloadLen !== r) {
          violations.push(`offsets out of order: data ${dataStart}+${dataLen}, payload ${payloadStart}+${payloadLen}, end ${r}`);
        }
        messages.push({
          hex: hex(buf, pos, r), msgId: parser.msgId, type: parser.type, flags: parser.flags, version: parser.version,
          sameDc: parser.sameDc, dataHex: hex(buf, dataStart, dataStart + dataLen),
          payloadHex: hex(buf, payloadStart, payloadStart + payloadLen),
        });
        pos = r;
        continue;
      }
      if (r === DNODE_INCOMPLETE) {
        if (parser.frameStart !== pos) violations.push(`incomplete frameStart ${parser.frameStart} is not pos ${pos}`);
        if (parser.needed <= end - pos) violations.push(`needed ${parser.needed} is not more than the ${end - pos} bytes given`);
        neededFloor = parser.needed;
        pending = buf.slice(pos, end);
        break;
      }
      if (r === DNODE_ERROR) {
        if (parser.errorMessage === '') violations.push('error without a message');
        return { messages, end: `error: ${parser.errorMessage}`, violations, calls };
      }
      violations.push(`parse returned ${r}`);
      return { messages, end: 'broken', violations, calls };
    }
  }
  return { messages, end: pending.length > 0 ? 'incomplete' : 'clean', violations, calls };
}
