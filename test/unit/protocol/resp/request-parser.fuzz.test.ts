// Property tests of RespRequestParser: encode->parse roundtrips under random chunking, and garbage that never hurts.
// Chunked feeding must always give exactly what one whole chunk gives, frames and error message alike.
import t from 'tap';
import fc from 'fast-check';
import { RespRequestParser, PARSE_INCOMPLETE, PARSE_ERROR } from '../../../../src/protocol/resp/index.ts';
import { feedRequests, encodeCommand, cut } from './resp-feed.ts';

const arg = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 3000 }) },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '*1\r\n', '$3\r\n', '', '\0').map((s) => Buffer.from(s)) },
);
const command = fc.array(arg, { minLength: 1, maxLength: 10 });
// Inline words: no blanks, quotes, backslashes or NUL (so no quoting), and no '*' (that would start a multibulk).
const word = fc.string({ unit: fc.constantFrom(...'abcXYZ019:_-.{}$'.split('')), minLength: 1, maxLength: 12 });
type Piece = { kind: 'bulk'; args: Uint8Array[] } | { kind: 'inline'; words: string[]; lf: boolean } | { kind: 'noise'; text: string };
const piece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 8, arbitrary: command.map((args): Piece => ({ kind: 'bulk', args })) },
  { weight: 2, arbitrary: fc.record({ words: fc.array(word, { minLength: 1, maxLength: 5 }), lf: fc.boolean() }).map((r): Piece => ({ kind: 'inline', ...r })) },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n', '*0\r\n', '*-1\r\n', '  \t\r\n').map((text): Piece => ({ kind: 'noise', text })) },
);

function encodePiece(p: Piece): Buffer {
  if (p.kind === 'bulk') return encodeCommand(p.args);
  if (p.kind === 'inline') return Buffer.from(p.words.join(' ') + (p.lf ? '\n' : '\r\n'), 'latin1');
  return Buffer.from(p.text, 'latin1');
}

function expected(pieces: Piece[]): { args: string[]; inline: boolean }[] {
  const out: { args: string[]; inline: boolean }[] = [];
  for (const p of pieces) {
    if (p.kind === 'bulk') out.push({ args: p.args.map((a) => Buffer.from(a).toString('latin1')), inline: false });
    else if (p.kind === 'inline') out.push({ args: p.words, inline: true });
  }
  return out;
}

/** Sorted distinct cut offsets inside [1, length). */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) }).map((a) => a.sort((x, y) => x - y));
}

t.test('roundtrip: random commands, encoded, parse back identically under random chunking', async (t) => {
  fc.assert(
    fc.property(
      fc.array(piece, { minLength: 1, maxLength: 30 }).chain((pieces) => {
        const bytes = Buffer.concat(pieces.map(encodePiece));
        return fc.tuple(fc.constant(pieces), fc.constant(bytes), cutsFor(bytes.length));
      }),
      ([pieces, bytes, cuts]) => {
        const out = feedRequests(cut(bytes, cuts));
        if (out.violations.length > 0) throw new Error(out.violations.join('; '));
        if (out.end !== 'clean') throw new Error(`end ${out.end}`);
        return JSON.stringify(out.items) === JSON.stringify(expected(pieces));
      },
    ),
    { numRuns: 400 },
  );
  t.pass('roundtrips held');
});

// Garbage biased toward the bytes that mean something to RESP.
const garbageByte = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...'*$\r\n-0123456789 \t"\'\\xa'.split('').map((c) => c.charCodeAt(0)), 0, 0x0b) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const garbage = fc.oneof(
  fc.array(garbageByte, { maxLength: 200 }).map((a) => Buffer.from(a)),
  // Valid frames with a few bytes flipped: errors deep inside otherwise good input.
  fc.tuple(fc.array(command, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), garbageByte), { minLength: 1, maxLength: 4 })).map(([cmds, flips]) => {
    const b = Buffer.concat(cmds.map((c) => encodeCommand(c)));
    for (const [at, v] of flips) b[at % b.length] = v;
    return b;
  }),
);

t.test('garbage: never throws, valid codes, never past end, chunking never changes the outcome', async (t) => {
  const limits = { maxArgs: 1000, maxBulkBytes: 5000, maxInlineBytes: 100, maxRequestBytes: 20000 };
  fc.assert(
    fc.property(
      garbage.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
      ([bytes, cuts]) => {
        const whole = feedRequests([bytes], new RespRequestParser(limits));
        const split = feedRequests(cut(bytes, cuts), new RespRequestParser(limits));
        if (whole.violations.length > 0) throw new Error('whole: ' + whole.violations.join('; '));
        if (split.violations.length > 0) throw new Error('split: ' + split.violations.join('; '));
        if (whole.end !== split.end) throw new Error(`end ${JSON.stringify(whole.end)} vs ${JSON.stringify(split.end)}`);
        return JSON.stringify(whole.items) === JSON.stringify(split.items);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('garbage properties held');
});

t.test('garbage parsed in place from every offset: bounded, and never a frame end beyond end', async (t) => {
  fc.assert(
    fc.property(garbage, fc.nat(), (bytes, offSeed) => {
      const p = new RespRequestParser();
      const start = bytes.length === 0 ? 0 : offSeed % bytes.length;
      let pos = start;
      let calls = 0;
      while (pos < bytes.length) {
        if (++calls > bytes.length + 2) return false;
        const r = p.parse(bytes, pos, bytes.length);
        if (r === PARSE_INCOMPLETE || r === PARSE_ERROR) return true;
        if (!(r > pos && r <= bytes.length)) return false;
        pos = r;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('bounded');
});
