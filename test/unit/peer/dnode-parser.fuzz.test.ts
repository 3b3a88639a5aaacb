// Property tests of DnodeParser: writer->parser roundtrips under random chunking, and garbage or mutated streams
// that must never throw, loop, or claim a message end beyond the bytes given.
import t from 'tap';
import fc from 'fast-check';
import { DnodeHeaderTemplate, DnodeParser, DNODE_ERROR, DNODE_INCOMPLETE, DNODE_MAGIC, dnodeHeaderLength, writeDnodeHeader } from '../../../src/protocol/dnode/index.ts';
import { cut, feedDnode, type ParsedMessage } from './dnode-feed.ts';

interface Msg { msgId: number; type: number; flags: number; version: number; sameDc: number; data: Uint8Array; payload: Uint8Array }

const limits = { maxPayloadBytes: 4096, maxDataBytes: 64, allowEncrypted: true };
const msg: fc.Arbitrary<Msg> = fc.record({
  msgId: fc.oneof(fc.nat(100), fc.maxSafeNat()),
  type: fc.nat(255),
  flags: fc.nat(255),
  version: fc.nat(255),
  sameDc: fc.nat(1),
  data: fc.uint8Array({ maxLength: 64 }),
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(Buffer.from('   $2014$ 1 3 0 1 1 *1 d *4\r\n'))) },
  ),
});

function encode(messages: Msg[], useTemplate: boolean): Uint8Array {
  let total = 0;
  for (const m of messages) total += dnodeHeaderLength(m.msgId, m.type, m.flags, m.version, m.sameDc, m.data.length, m.payload.length) + m.payload.length;
  const buf = new Uint8Array(total);
  let p = 0;
  for (const m of messages) {
    p = useTemplate
      ? new DnodeHeaderTemplate(m.type, m.flags, m.version, m.sameDc, m.data).write(buf, p, m.msgId, m.payload.length)
      : writeDnodeHeader(buf, p, m.msgId, m.type, m.flags, m.version, m.sameDc, m.data, m.payload.length);
    buf.set(m.payload, p);
    p += m.payload.length;
  }
  if (p !== total) throw new Error(`wrote ${p} of ${total}`);
  return buf;
}

const fields = (m: Msg | ParsedMessage): string => JSON.stringify([m.msgId, m.type, m.flags, m.version, m.sameDc,
  'data' in m ? Buffer.from(m.data).toString('hex') : m.dataHex, 'payload' in m ? Buffer.from(m.payload).toString('hex') : m.payloadHex]);

function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) }).map((a) => a.sort((x, y) => x - y));
}

t.test('random messages, written and parsed back under random chunking, are identical', async (t) => {
  fc.assert(
    fc.property(
      fc.tuple(fc.array(msg, { minLength: 1, maxLength: 12 }), fc.boolean()).chain(([messages, useTemplate]) => {
        const bytes = encode(messages, useTemplate);
        return fc.tuple(fc.constant(messages), fc.constant(bytes), cutsFor(bytes.length));
      }),
      ([messages, bytes, cuts]) => {
        const out = feedDnode(cut(bytes, cuts), new DnodeParser(limits));
        if (out.violations.length > 0) throw new Error(out.violations.join('; '));
        if (out.end !== 'clean') throw new Error(`end ${out.end}`);
        return out.messages.map(fields).join() === messages.map(fields).join();
      },
    ),
    { numRuns: 300 },
  );
  t.pass('roundtrips held');
});

/** Calls parse on buf[pos, end) the way a connection does and checks the contract on every answer. */
function parseAll(buf: Uint8Array, parser: DnodeParser): string | undefined {
  let pos = 0;
  const end = buf.length;
  for (let calls = 0; pos < end; calls++) {
    if (calls > end) return 'more parse calls than bytes';
    const r = parser.parse(buf, pos, end);
    if (r === DNODE_ERROR || r === DNODE_INCOMPLETE) {
      if (r === DNODE_INCOMPLETE && parser.needed <= end - pos) return `needed ${parser.needed} not beyond the input`;
      return undefined;
    }
    if (!Number.isInteger(r) || r <= pos || r > end) return `parse(${pos}, ${end}) returned ${r}`;
    pos = r;
  }
  return undefined;
}

t.test('random bytes, with or without a magic in front, never throw, loop or overrun', async (t) => {
  const magic = Buffer.from(DNODE_MAGIC);
  const noise = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array(Buffer.concat([magic, b]))),
    fc.array(fc.constantFrom(...'0123456789 *\r\nd$-'.split('')), { maxLength: 60 })
      .map((cs) => new Uint8Array(Buffer.concat([magic, Buffer.from(cs.join(''))]))),
  );
  fc.assert(fc.property(noise, fc.boolean(), (bytes, encrypted) => {
    const problem = parseAll(bytes, new DnodeParser({ ...limits, allowEncrypted: encrypted }));
    if (problem) throw new Error(problem);
  }), { numRuns: 3000 });
  t.pass('no violation');
});

t.test('valid streams with a few bytes changed, inserted or dropped keep the contract, whole and chunked', async (t) => {
  const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('set', 'insert', 'drop'), byte: fc.nat(255) });
  fc.assert(fc.property(fc.array(msg, { minLength: 1, maxLength: 5 }), fc.array(edit, { minLength: 1, maxLength: 4 }), fc.nat(),
    (messages, edits, cutSeed) => {
      const bytes = Array.from(encode(messages, false));
      for (const e of edits) {
        const at = e.at % (bytes.length + 1);
        if (e.kind === 'set' && at < bytes.length) bytes[at] = e.byte;
        else if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
        else bytes.splice(at, 1);
      }
      const buf = new Uint8Array(bytes);
      const problem = parseAll(buf, new DnodeParser(limits));
      if (problem) throw new Error(problem);
      const whole = feedDnode([buf], new DnodeParser(limits));
      const chunked = feedDnode(cut(buf, [1 + (cutSeed % Math.max(1, buf.length - 1))]), new DnodeParser(limits));
      if (whole.violations.length > 0 || chunked.violations.length > 0) throw new Error([...whole.violations, ...chunked.violations].join('; '));
      // Chunking never changes the outcome, only when it is known.
      if (JSON.stringify(whole.messages) !== JSON.stringify(chunked.messages) || whole.end !== chunked.end) {
        throw new Error(`whole ${whole.end} vs chunked ${chunked.end}`);
      }
    }), { numRuns: 1500 });
  t.pass('no violation');
});
