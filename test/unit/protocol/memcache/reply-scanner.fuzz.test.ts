// Property tests of MemcacheReplyScanner: random reply streams roundtrip under random chunking; garbage never hurts.
// Chunked scanning must always give exactly what one whole chunk gives.
import t from 'tap';
import fc from 'fast-check';
import {
  MemcacheReplyScanner, SCAN_INCOMPLETE, SCAN_ERROR, RK_ANY, RK_STORAGE, RK_RETRIEVAL, RK_DELETE, RK_ARITHMETIC,
  RK_TOUCH, RK_OK, RK_VERSION, RK_STATS, RK_META, RK_META_DEBUG, RK_MN, valueBounds,
} from '../../../../src/protocol/memcache/index.ts';
import { feedReplies, cut } from './mc-feed.ts';

const keyText = fc.string({ unit: fc.constantFrom(...'abcXYZ019:_-.\t\x01'.split('')), minLength: 1, maxLength: 20 });
const data = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 3000 }) },
  { weight: 1, arbitrary: fc.constantFrom('END\r\n', '\r\nEND\r\n', 'VALUE a 0 1\r\n').map((s) => Buffer.from(s)) },
).map((d) => Buffer.from(d).toString('latin1'));
const num = fc.bigInt({ min: 0n, max: 18446744073709551615n }).map(String);
const flagsText = fc.array(fc.constantFrom('c12', 'f0', 't-1', 's5', 'O99', 'kabc', 'W', 'Z', 'X', 'b'), { maxLength: 4 }).map((f) => f.map((x) => ' ' + x).join(''));

const errorLine = fc.constantFrom('ERROR', 'CLIENT_ERROR bad data chunk', 'SERVER_ERROR out of memory storing object', 'ERROR: shutdown not enabled').map((l) => '!' + l + '\r\n');
const valueItem = fc.tuple(keyText, num, fc.option(num), data).map(([k, f, cas, d]) => `VALUE ${k} ${f} ${d.length}${cas !== null ? ' ' + cas : ''}\r\n${d}\r\n`);

const byKind: Record<number, fc.Arbitrary<string>> = {
  [RK_STORAGE]: fc.constantFrom('STORED', 'NOT_STORED', 'EXISTS', 'NOT_FOUND').map((l) => l + '\r\n'),
  [RK_RETRIEVAL]: fc.array(valueItem, { maxLength: 5 }).map((items) => items.join('') + 'END\r\n'),
  [RK_DELETE]: fc.constantFrom('DELETED\r\n', 'NOT_FOUND\r\n'),
  [RK_ARITHMETIC]: fc.oneof(num.map((n) => n + '\r\n'), fc.constant('NOT_FOUND\r\n')),
  [RK_TOUCH]: fc.constantFrom('TOUCHED\r\n', 'NOT_FOUND\r\n'),
  [RK_OK]: fc.constant('OK\r\n'),
  [RK_VERSION]: fc.constantFrom('VERSION 1.6.18\r\n', 'VERSION x y\r\n'),
  [RK_STATS]: fc.oneof(
    fc.array(fc.tuple(keyText, keyText), { maxLength: 6 }).map((l) => l.map(([a, v]) => `STAT ${a} ${v}\r\n`).join('') + 'END\r\n'),
    fc.constantFrom('RESET\r\n', 'OK\r\n'),
  ),
  [RK_META]: fc.oneof(
    fc.tuple(fc.constantFrom('HD', 'EN', 'NF', 'NS', 'EX'), flagsText).map(([c, f]) => c + f + '\r\n'),
    fc.tuple(data, flagsText).map(([d, f]) => `VA ${d.length}${f}\r\n${d}\r\n`),
  ),
  [RK_META_DEBUG]: fc.constantFrom('ME k exp=-1 la=1 cas=2 fetch=no cls=1 size=60\r\n', 'EN\r\n'),
  [RK_MN]: fc.constant('MN\r\n'),
  [RK_ANY]: fc.oneof(
    fc.constantFrom('STORED\r\n', 'MN\r\n', '12\r\n', 'END\r\n', 'HD c1\r\n'),
    fc.array(valueItem, { minLength: 1, maxLength: 3 }).map((items) => items.join('') + 'END\r\n'),
    fc.tuple(data).map(([d]) => `VA ${d.length}\r\n${d}\r\n`),
  ),
};
const kinds = Object.keys(byKind).map(Number);

const reply = fc.constantFrom(...kinds).chain((kind) =>
  fc.oneof({ weight: 6, arbitrary: byKind[kind] }, { weight: 1, arbitrary: errorLine }).map((text) => ({ kind, text })),
);

/** Sorted distinct cut offsets inside [1, length). */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) }).map((a) => a.sort((x, y) => x - y));
}

t.test('roundtrip: random replies of every kind scan back identically under random chunking', async (t) => {
  fc.assert(
    fc.property(
      fc.array(reply, { minLength: 1, maxLength: 25 }).chain((rs) => {
        const bytes = Buffer.from(rs.map((r) => r.text.replace(/^!/, '')).join(''), 'latin1');
        return fc.tuple(fc.constant(rs), fc.constant(bytes), cutsFor(bytes.length));
      }),
      ([rs, bytes, cuts]) => {
        const out = feedReplies(cut(bytes, cuts), rs.map((r) => r.kind));
        if (out.violations.length > 0) throw new Error(out.violations.join('; '));
        if (out.end !== 'clean') throw new Error(`end ${out.end}`);
        const want = rs.map((r) => r.text);
        if (JSON.stringify(out.items) !== JSON.stringify(want)) throw new Error(`got ${JSON.stringify(out.items)}\nwant ${JSON.stringify(want)}`);
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('roundtrips held');
});

t.test('valueBounds agrees with the scanner on random retrieval replies', async (t) => {
  fc.assert(
    fc.property(fc.array(valueItem, { maxLength: 8 }), (items) => {
      const bytes = Buffer.from(items.join('') + 'END\r\n', 'latin1');
      const out = new Int32Array(9);
      if (valueBounds(bytes, 0, bytes.length, out) !== items.length) return false;
      let p = 0;
      for (let i = 0; i < items.length; i++) {
        if (out[i] !== p) return false;
        p += Buffer.byteLength(items[i], 'latin1');
      }
      return out[items.length] === p && new MemcacheReplyScanner().scan(bytes, 0, bytes.length, RK_RETRIEVAL) === bytes.length;
    }),
    { numRuns: 300 },
  );
  t.pass('bounds held');
});

const garbageByte = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...'\r\n0123456789 VALUEND'.split('').map((c) => c.charCodeAt(0))) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const garbage = fc.oneof(
  fc.array(garbageByte, { maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.array(reply, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), garbageByte), { minLength: 1, maxLength: 4 })).map(([rs, flips]) => {
    const bytes = Buffer.from(rs.map((r) => r.text.replace(/^!/, '')).join(''), 'latin1');
    for (const [at, v] of flips) bytes[at % bytes.length] = v;
    return bytes;
  }),
);

t.test('garbage: never throws, valid codes, never past end, chunking never changes the outcome', async (t) => {
  const limits = { maxLineBytes: 64, maxValueBytes: 500 };
  fc.assert(
    fc.property(garbage.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length), fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 4 }))), ([bytes, cuts, ks]) => {
      const whole = feedReplies([bytes], ks, new MemcacheReplyScanner(limits));
      const split = feedReplies(cut(bytes, cuts), ks, new MemcacheReplyScanner(limits));
      if (whole.violations.length > 0) throw new Error('whole: ' + whole.violations.join('; '));
      if (split.violations.length > 0) throw new Error('split: ' + split.violations.join('; '));
      if (whole.end !== split.end) throw new Error(`end ${whole.end} vs ${split.end}`);
      return JSON.stringify(whole.items) === JSON.stringify(split.items);
    }),
    { numRuns: 3000 },
  );
  t.pass('garbage properties held');
});

t.test('garbage scanned in place from every offset: bounded, and never an end beyond end', async (t) => {
  fc.assert(
    fc.property(garbage, fc.nat(), fc.constantFrom(...kinds), (bytes, offSeed, kind) => {
      const s = new MemcacheReplyScanner();
      let pos = bytes.length === 0 ? 0 : offSeed % bytes.length;
      let calls = 0;
      while (pos < bytes.length) {
        if (++calls > bytes.length + 2) return false;
        const r = s.scan(bytes, pos, bytes.length, kind);
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
