// Property tests of MemcacheRequestParser: random valid commands roundtrip under random chunking; garbage never hurts.
// Chunked feeding must always give exactly what one whole chunk gives, frames, errors and end state alike.
import t from 'tap';
import fc from 'fast-check';
import { MemcacheRequestParser, PARSE_INCOMPLETE, PARSE_ERROR } from '../../../../src/protocol/memcache/index.ts';
import { feedRequests, cut, checksum } from './mc-feed.ts';

// Key bytes: anything memcached keeps inside a token (no space, LF, NUL; no CR, so LF-only lines stay exact).
const keyByte = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 33, max: 126 }) },
  { weight: 1, arbitrary: fc.constantFrom(9, 1, 11, 12, 127, 128, 200, 255) },
);
const key = fc.oneof(
  { weight: 12, arbitrary: fc.array(keyByte, { minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.array(keyByte, { minLength: 240, maxLength: 250 }) },
).map((a) => Buffer.from(a).toString('latin1'));
const sp = fc.constantFrom(' ', ' ', ' ', '  ', '   ');
const uint = fc.oneof(fc.integer({ min: 0, max: 4294967295 }).map(String), fc.constantFrom('0', '18446744073709551615', '007'));
const int = fc.oneof(fc.integer({ min: -100000, max: 100000000 }).map(String), fc.constantFrom('-1', '0'));
const data = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 41, maxLength: 3000 }) },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', 'get a\r\n', 'END\r\n').map((s) => Buffer.from(s)) },
);
const opaque = fc.string({ unit: fc.constantFrom(...'0123456789abcdefXYZ-_'.split('')), maxLength: 31 });

interface Cmd {
  /** Tokens of the command line (joined with random spaces). */
  tokens: string[];
  data?: Uint8Array;
  expect: string;
}

function withData(expect: string, d: Uint8Array): string {
  const buf = Buffer.from(d);
  return expect + (d.length <= 40 ? ` <${buf.toString('latin1')}>` : ` <${d.length} bytes #${checksum(buf, 0, d.length).toString(16)}>`);
}

const retrieval = fc.record({
  name: fc.constantFrom('get', 'gets', 'gat', 'gats'),
  keys: fc.array(key, { minLength: 1, maxLength: 6 }),
  exptime: int,
}).map(({ name, keys, exptime }): Cmd => ({
  tokens: name.startsWith('gat') ? [name, exptime, ...keys] : [name, ...keys],
  expect: [name, ...keys].join(' '),
}));

const storage = fc.record({
  name: fc.constantFrom('set', 'add', 'replace', 'append', 'prepend', 'cas'),
  k: key, flags: uint, exptime: int, cas: uint, noreply: fc.boolean(), d: data,
}).map(({ name, k, flags, exptime, cas, noreply, d }): Cmd => ({
  tokens: [name, k, flags, exptime, String(d.length), ...(name === 'cas' ? [cas] : []), ...(noreply ? ['noreply'] : [])],
  data: d,
  expect: withData(`${name} ${k}${noreply ? ' [noreply]' : ''}`, d),
}));

const keyed = fc.record({
  name: fc.constantFrom('delete', 'incr', 'decr', 'touch'),
  k: key, n: uint, e: int, hold: fc.boolean(), noreply: fc.boolean(),
}).map(({ name, k, n, e, hold, noreply }): Cmd => {
  const args = name === 'delete' ? (hold ? ['0'] : []) : [name === 'touch' ? e : n];
  return { tokens: [name, k, ...args, ...(noreply ? ['noreply'] : [])], expect: `${name} ${k}${noreply ? ' [noreply]' : ''}` };
});

const other = fc.oneof(
  fc.constant<Cmd>({ tokens: ['version'], expect: 'version' }),
  fc.constant<Cmd>({ tokens: ['mn'], expect: 'mn' }),
  fc.constantFrom('', 'items', 'slabs', 'settings').map((a): Cmd => ({ tokens: a ? ['stats', a] : ['stats'], expect: 'stats' })),
  fc.tuple(uint, fc.boolean()).map(([v, nr]): Cmd => ({ tokens: ['verbosity', v, ...(nr ? ['noreply'] : [])], expect: `verbosity${nr ? ' [noreply]' : ''}` })),
  fc.tuple(fc.option(int), fc.boolean()).map(([d, nr]): Cmd => ({
    tokens: ['flush_all', ...(d !== null ? [d] : []), ...(nr ? ['noreply'] : [])],
    expect: `flush_all${nr ? ' [noreply]' : ''}`,
  })),
  key.map((k): Cmd => ({ tokens: ['me', k], expect: `me ${k}` })),
);

// Meta flags without duplicates: [letter, token].
const plainFlags = 'lPLkstcfvhuqI'.split('');
const metaFlags = fc.record({
  plain: fc.subarray(plainFlags),
  valued: fc.subarray(['N', 'T', 'R', 'C', 'F', 'J', 'D']),
  o: fc.option(opaque),
  numbers: fc.array(fc.integer({ min: 0, max: 99999 }), { minLength: 7, maxLength: 7 }),
}).map(({ plain, valued, o, numbers }) => {
  const tokens = [...plain, ...valued.map((f, i) => f + numbers[i])];
  if (o !== null) tokens.push('O' + o);
  return { tokens: tokens.slice(0, 14), quiet: tokens.slice(0, 14).includes('q'), opaque: tokens.slice(0, 14).find((x) => x[0] === 'O') };
});

const meta = fc.record({
  name: fc.constantFrom('mg', 'md', 'ma', 'ms'),
  k: key,
  bin: fc.option(fc.uint8Array({ minLength: 1, maxLength: 60 })),
  flags: metaFlags,
  mode: fc.option(fc.constantFrom(0, 1, 2, 3)),
  d: data,
}).map(({ name, k, bin, flags, mode, d }): Cmd => {
  const tokens = [...flags.tokens];
  if (mode !== null && name !== 'md') tokens.push('M' + (name === 'ms' ? 'EAPRS' : 'I+D-')[mode]);
  let expectKey = k;
  if (bin !== null) {
    tokens.push('b');
    expectKey = Buffer.from(bin).toString('base64') + ' b64=' + Buffer.from(bin).toString('hex');
  }
  const keyToken = bin !== null ? Buffer.from(bin).toString('base64') : k;
  let expect = `${name} ${expectKey}${flags.quiet ? ' [q]' : ''}${flags.opaque !== undefined ? ' O=' + flags.opaque.slice(1) : ''}`;
  if (name === 'ms') expect = withData(expect, d);
  return name === 'ms'
    ? { tokens: ['ms', keyToken, String(d.length), ...tokens], data: d, expect }
    : { tokens: [name, keyToken, ...tokens], expect };
});

const command = fc.oneof({ weight: 3, arbitrary: retrieval }, { weight: 3, arbitrary: storage }, { weight: 2, arbitrary: keyed }, { weight: 1, arbitrary: other }, { weight: 3, arbitrary: meta });

const encoded = fc.tuple(command, fc.array(sp, { minLength: 30, maxLength: 30 }), fc.constantFrom('', ' ', '  '), fc.constantFrom('\r\n', '\r\n', '\n')).map(([c, spaces, lead, eol]) => {
  const line = lead + c.tokens.map((tok, i) => (i === 0 ? '' : spaces[i]) + tok).join('') + eol;
  const parts = [Buffer.from(line, 'latin1')];
  if (c.data !== undefined) parts.push(Buffer.from(c.data), Buffer.from('\r\n'));
  return { bytes: Buffer.concat(parts), expect: c.expect };
});

/** Sorted distinct cut offsets inside [1, length). */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) }).map((a) => a.sort((x, y) => x - y));
}

t.test('roundtrip: random valid commands parse back identically under random chunking', async (t) => {
  fc.assert(
    fc.property(
      fc.array(encoded, { minLength: 1, maxLength: 25 }).chain((cmds) => {
        const bytes = Buffer.concat(cmds.map((c) => c.bytes));
        return fc.tuple(fc.constant(cmds), fc.constant(bytes), cutsFor(bytes.length));
      }),
      ([cmds, bytes, cuts]) => {
        const out = feedRequests(cut(bytes, cuts));
        if (out.violations.length > 0) throw new Error(out.violations.join('; '));
        if (out.end !== 'clean') throw new Error(`end ${out.end}`);
        const want = cmds.map((c) => c.expect);
        if (JSON.stringify(out.items) !== JSON.stringify(want)) {
          throw new Error(`got ${JSON.stringify(out.items)}\nwant ${JSON.stringify(want)}`);
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('roundtrips held');
});

// Garbage biased toward the bytes and words that mean something to memcached.
const garbageByte = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...' \r\n0123456789-+bqOTMkvEas'.split('').map((c) => c.charCodeAt(0)), 0, 0x80, 9) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const word = fc.constantFrom('get ', 'gets ', 'gat ', 'set ', 'cas ', 'ms ', 'mg ', 'md ', 'ma ', 'me ', 'mn', 'delete ', 'incr ', 'touch ', 'flush_all ', 'noreply', ' 0 0 ', ' 5\r\n', 'HTTP/1.1', '\r\n');
const garbage = fc.oneof(
  fc.array(garbageByte, { maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.array(fc.oneof(word, fc.array(garbageByte, { maxLength: 6 }).map((a) => Buffer.from(a).toString('latin1'))), { maxLength: 60 }).map((w) => Buffer.from(w.join(''), 'latin1')),
  // Valid pipelines with a few bytes flipped: errors deep inside otherwise good input.
  fc.tuple(fc.array(encoded, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), garbageByte), { minLength: 1, maxLength: 4 })).map(([cmds, flips]) => {
    const bytes = Buffer.concat(cmds.map((c) => c.bytes));
    for (const [at, v] of flips) bytes[at % bytes.length] = v;
    return bytes;
  }),
);

t.test('garbage: never throws, valid codes, never past end, chunking never changes the outcome', async (t) => {
  const limits = { maxKeyLength: 250, maxLineBytes: 120, maxValueBytes: 400, maxKeys: 12 };
  fc.assert(
    fc.property(garbage.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))), ([bytes, cuts]) => {
      const whole = feedRequests([bytes], new MemcacheRequestParser(limits));
      const split = feedRequests(cut(bytes, cuts), new MemcacheRequestParser(limits));
      if (whole.violations.length > 0) throw new Error('whole: ' + whole.violations.join('; '));
      if (split.violations.length > 0) throw new Error('split: ' + split.violations.join('; '));
      if (whole.end !== split.end) throw new Error(`end ${JSON.stringify(whole.end)} vs ${JSON.stringify(split.end)}`);
      return JSON.stringify(whole.items) === JSON.stringify(split.items);
    }),
    { numRuns: 3000 },
  );
  t.pass('garbage properties held');
});

t.test('garbage parsed in place from every offset: bounded, and never a frame end beyond end', async (t) => {
  fc.assert(
    fc.property(garbage, fc.nat(), (bytes, offSeed) => {
      const p = new MemcacheRequestParser();
      let pos = bytes.length === 0 ? 0 : offSeed % bytes.length;
      let calls = 0;
      while (pos < bytes.length) {
        if (++calls > bytes.length + 2) return false;
        const r = p.parse(bytes, pos, bytes.length);
        if (r === PARSE_INCOMPLETE || r === PARSE_ERROR) return p.frameStart >= pos && p.frameStart <= bytes.length || r === PARSE_ERROR;
        if (!(r > pos && r <= bytes.length)) return false;
        pos = r;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('bounded');
});
