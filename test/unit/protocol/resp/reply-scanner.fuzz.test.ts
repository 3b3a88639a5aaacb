// Property tests of RespReplyScanner: random RESP2/RESP3 reply streams under random chunking, garbage, and agreement
// with redis-parser (the parser ioredis used) on how many replies a random RESP2 stream holds.
import t from 'tap';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { RespReplyScanner, SCAN_INCOMPLETE, SCAN_ERROR } from '../../../../src/protocol/resp/index.ts';
import { feedReplies, cut } from './resp-feed.ts';

interface RedisParserLike {
  execute(buf: Buffer): void;
}
type RedisParserCtor = new (opts: {
  returnReply: (r: unknown) => void;
  returnError: (e: unknown) => void;
  returnFatalError: (e: unknown) => void;
  returnBuffers: boolean;
}) => RedisParserLike;
const RedisParser = createRequire(import.meta.url)('redis-parser') as RedisParserCtor;

/** One encoded reply and the type byte the scanner must report for it. */
interface Encoded {
  text: string;
  type: string;
}

const lineText = fc.string({ unit: fc.constantFrom(...'abc XYZ019:_-.{}*$+?'.split('')), maxLength: 20 });
const bulkText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.constantFrom('\r\n', '*1\r\n:1\r\n', '$-1\r\n'),
);

function resp2(depth: number): fc.Arbitrary<Encoded> {
  const leaves: fc.Arbitrary<Encoded>[] = [
    lineText.map((s) => ({ text: `+${s}\r\n`, type: '+' })),
    lineText.map((s) => ({ text: `-ERR ${s}\r\n`, type: '-' })),
    fc.integer().map((n) => ({ text: `:${n}\r\n`, type: ':' })),
    bulkText.map((s) => ({ text: `$${s.length}\r\n${s}\r\n`, type: '$' })),
    fc.constant({ text: '$-1\r\n', type: '$' }),
    fc.constant({ text: '*-1\r\n', type: '*' }),
  ];
  if (depth === 0) return fc.oneof(...leaves);
  const array = fc.array(resp2(depth - 1), { maxLength: 4 }).map((xs) => ({ text: `*${xs.length}\r\n${xs.map((x) => x.text).join('')}`, type: '*' }));
  return fc.oneof(...leaves, array);
}

function resp3(depth: number): fc.Arbitrary<Encoded> {
  const leaves: fc.Arbitrary<Encoded>[] = [
    resp2(0),
    fc.constant({ text: '_\r\n', type: '_' }),
    fc.double({ noNaN: true }).map((d) => ({ text: `,${d}\r\n`, type: ',' })),
    fc.boolean().map((v) => ({ text: `#${v ? 't' : 'f'}\r\n`, type: '#' })),
    fc.bigInt().map((v) => ({ text: `(${v}\r\n`, type: '(' })),
    bulkText.map((s) => ({ text: `!${s.length}\r\n${s}\r\n`, type: '!' })),
    bulkText.map((s) => ({ text: `=${s.length + 4}\r\ntxt:${s}\r\n`, type: '=' })),
  ];
  if (depth === 0) return fc.oneof(...leaves);
  const inner = resp3(depth - 1);
  const join = (xs: Encoded[]): string => xs.map((x) => x.text).join('');
  return fc.oneof(
    ...leaves,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(inner, { maxLength: 3 })).map(([c, xs]) => ({ text: `${c}${xs.length}\r\n${join(xs)}`, type: c })),
    fc.array(fc.tuple(inner, inner), { maxLength: 2 }).map((kv) => ({ text: `%${kv.length}\r\n${join(kv.flat())}`, type: '%' })),
    // An attribute decorates the reply after it; the pair is one reply of the decorated reply's type.
    fc.tuple(fc.array(fc.tuple(inner, inner), { maxLength: 2 }), inner).map(([kv, x]) => ({ text: `|${kv.length}\r\n${join(kv.flat())}${x.text}`, type: x.type })),
  );
}

function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) }).map((a) => a.sort((x, y) => x - y));
}

function streamWithCuts(gen: fc.Arbitrary<Encoded>): fc.Arbitrary<[Encoded[], Buffer, number[]]> {
  return fc.array(gen, { minLength: 1, maxLength: 20 }).chain((replies) => {
    const bytes = Buffer.from(replies.map((r) => r.text).join(''), 'latin1');
    return fc.tuple(fc.constant(replies), fc.constant(bytes), cutsFor(bytes.length));
  });
}

t.test('random RESP3 (and RESP2) reply streams scan into the same replies under random chunking', async (t) => {
  fc.assert(
    fc.property(streamWithCuts(resp3(5)), ([replies, bytes, cuts]) => {
      const out = feedReplies(cut(bytes, cuts));
      if (out.violations.length > 0) throw new Error(out.violations.join('; '));
      if (out.end !== 'clean') throw new Error(`end ${out.end}`);
      if (out.items.length !== replies.length) return false;
      for (let i = 0; i < replies.length; i++) {
        const r = out.items[i];
        if (r.bytes !== replies[i].text || String.fromCharCode(r.type) !== replies[i].type) return false;
        if (r.isError !== (replies[i].type === '-' || replies[i].type === '!')) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('held');
});

function countWithRedisParser(chunks: Buffer[]): number {
  let n = 0;
  const parser = new RedisParser({
    returnReply: () => n++,
    returnError: () => n++,
    returnFatalError: (e) => {
      throw e;
    },
    returnBuffers: true,
  });
  for (const c of chunks) parser.execute(c);
  return n;
}

t.test('agrees with redis-parser on the number of replies in random RESP2 streams', async (t) => {
  fc.assert(
    fc.property(streamWithCuts(resp2(5)), ([replies, bytes, cuts]) => {
      const chunks = cut(bytes, cuts);
      const ours = feedReplies(chunks).items.length;
      const theirs = countWithRedisParser(chunks);
      return ours === theirs && ours === replies.length;
    }),
    { numRuns: 500 },
  );
  t.pass('held');
});

const garbageByte = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...'*$+-:_,#(!=%~>|\r\n0123456789?'.split('').map((c) => c.charCodeAt(0))) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const garbage = fc.oneof(
  fc.array(garbageByte, { maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.array(resp3(3), { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), garbageByte), { minLength: 1, maxLength: 3 })).map(([rs, flips]) => {
    const b = Buffer.from(rs.map((r) => r.text).join(''), 'latin1');
    for (const [at, v] of flips) b[at % b.length] = v;
    return b;
  }),
);

t.test('garbage: never throws, valid codes, never past end, chunking never changes the outcome', async (t) => {
  fc.assert(
    fc.property(
      garbage.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
      ([bytes, cuts]) => {
        const whole = feedReplies([bytes], new RespReplyScanner(8, 1000));
        const split = feedReplies(cut(bytes, cuts), new RespReplyScanner(8, 1000));
        if (whole.violations.length > 0) throw new Error('whole: ' + whole.violations.join('; '));
        if (split.violations.length > 0) throw new Error('split: ' + split.violations.join('; '));
        return whole.end === split.end && JSON.stringify(whole.items) === JSON.stringify(split.items);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('held');
});

t.test('garbage scanned in place from any offset: bounded, and never a reply end beyond end', async (t) => {
  fc.assert(
    fc.property(garbage, fc.nat(), (bytes, offSeed) => {
      const s = new RespReplyScanner();
      let pos = bytes.length === 0 ? 0 : offSeed % bytes.length;
      let calls = 0;
      while (pos < bytes.length) {
        if (++calls > bytes.length + 2) return false;
        const r = s.scan(bytes, pos, bytes.length);
        if (r === SCAN_INCOMPLETE || r === SCAN_ERROR) return true;
        if (!(r > pos && r <= bytes.length)) return false;
        pos = r;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('bounded');
});
