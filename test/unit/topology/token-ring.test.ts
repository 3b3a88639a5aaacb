// Tests parse_dyn_token, cmp_dyn_token and vnode_dispatch against the ring vectors and random rings.
// Reads the vector files; starts nothing and touches no network.

import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  compareDynTokens, dispatchVnode, dynTokenKey, formatDynToken, hashFunction, hashToDynToken, parseDynToken,
  TokenRing,
} from '../../../src/topology/index.ts';
import type { DynToken } from '../../../src/topology/index.ts';

interface RingVectors {
  hash: string;
  tokens: string[];
  keys: Record<string, { hash: string; ownerIndex: number; ownerToken: string }>;
  rawHashDispatch: { tokens: string[]; hashToOwnerIndex: Record<string, number> };
  rawHashDispatchRing2: { tokens: string[]; hashToOwnerIndex: Record<string, number> };
  tokenParsing: { cases: Record<string, { signum: number; len: number; mag0: string }> };
}
const rv = JSON.parse(readFileSync('/work/shared/vectors/ring-vectors.json', 'utf8')) as RingVectors;

function ringOf(tokens: readonly string[]): TokenRing {
  return new TokenRing(tokens.map(parseDynToken), tokens.map((_, i) => i));
}

t.test('parse_dyn_token quirks, from the real function', async (t) => {
  const cases = Object.entries(rv.tokenParsing.cases);
  t.equal(cases.length, 8);
  for (const [text, want] of cases) {
    t.equal(want.len, 1, 'Dynomite keeps one word');
    t.same(parseDynToken(text), { signum: want.signum, mag: Number(want.mag0) }, JSON.stringify(text));
  }
  t.same(parseDynToken('12a'), { signum: 1, mag: 0 }, 'a non-digit zeroes its digit group, as dn_atoui does');
  t.throws(() => parseDynToken(''), RangeError);
  t.throws(() => parseDynToken('-'), RangeError);
  t.equal(formatDynToken(parseDynToken('-5')), '-5');
  t.equal(formatDynToken(parseDynToken('1073741824')), '1073741824');
});

t.test('cmp_dyn_token order: (signum, len, mag), signum 0 tokens all equal', async (t) => {
  const zero = parseDynToken('0');
  const zeroZero = parseDynToken('00');
  const neg = parseDynToken('-5');
  t.equal(compareDynTokens(zero, hashToDynToken(0)), 0);
  t.equal(compareDynTokens({ signum: 0, mag: 99 }, zero), 0, 'mag is ignored when signum is 0');
  t.equal(compareDynTokens(hashToDynToken(0), zeroZero), -1, '"00" has signum 1 and sorts above hash 0');
  t.equal(compareDynTokens(hashToDynToken(1), zeroZero), 1);
  t.equal(compareDynTokens(neg, hashToDynToken(0xffffffff)), 1, 'negative tokens sort above everything');
  t.equal(compareDynTokens(parseDynToken('-4'), neg), -1);
  // The numeric sort key must order exactly as cmp_dyn_token does.
  const sample: DynToken[] = [zero, zeroZero, neg, parseDynToken('-4'), parseDynToken('7'),
    parseDynToken('4294967295'), hashToDynToken(0), hashToDynToken(1), hashToDynToken(0xffffffff),
    { signum: 0, mag: 12 }];
  for (const a of sample) {
    for (const b of sample) {
      t.equal(Math.sign(dynTokenKey(a) - dynTokenKey(b)), compareDynTokens(a, b),
        `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  t.throws(() => dynTokenKey({ signum: 2, mag: 0 }), RangeError);
});

t.test('keys through murmur onto the 4-token ring, from dnode_peer_idx_for_key_on_rack()', async (t) => {
  t.equal(rv.hash, 'murmur');
  const ring = ringOf(rv.tokens);
  const murmur = hashFunction('murmur');
  const entries = Object.entries(rv.keys);
  t.equal(entries.length, 86);
  for (const [hex, want] of entries) {
    const key = Buffer.from(hex, 'hex');
    const hash = murmur(key, 0, key.length);
    t.equal(hash, Number(want.hash), `murmur ${hex.slice(0, 24)}`);
    t.equal(ring.lookup(hash), want.ownerIndex, `owner of ${hex.slice(0, 24)}`);
    t.equal(rv.tokens[ring.lookup(hash)], want.ownerToken);
  }
});

for (const which of ['rawHashDispatch', 'rawHashDispatchRing2'] as const) {
  t.test(`${which}: boundary hashes through the real vnode_dispatch()`, async (t) => {
    const { tokens, hashToOwnerIndex } = rv[which];
    const ring = ringOf(tokens);
    for (const [hash, owner] of Object.entries(hashToOwnerIndex)) {
      t.equal(ring.lookup(Number(hash)), owner, `hash ${hash}`);
    }
    // Configured order must not matter: the ring sorts, owners travel with their tokens.
    const reversed = [...tokens].reverse();
    const rev = new TokenRing(reversed.map(parseDynToken), reversed.map((_, i) => tokens.length - 1 - i));
    for (const [hash, owner] of Object.entries(hashToOwnerIndex)) t.equal(rev.lookup(Number(hash)), owner);
  });
}

/** Straight from the README's rule, to compare the binary search against on many hashes. */
function ownerByRule(sortedMags: number[], owners: number[], hash: number): number {
  const last = sortedMags.length - 1;
  if (hash > sortedMags[last] || hash <= sortedMags[0]) return owners[0];
  for (let i = 0; i < sortedMags.length; i++) if (sortedMags[i] >= hash) return owners[i];
  return -2;
}

t.test('lookup agrees with the (prev, token] rule on random rings and hashes', async (t) => {
  let seed = 12345;
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let round = 0; round < 40; round++) {
    const n = 1 + (next() % 50);
    const mags = new Set<number>();
    while (mags.size < n) mags.add(1 + (next() % 0xfffffffe));
    const tokens = [...mags];
    const owners = tokens.map((_, i) => i * 3 + 1);
    const ring = new TokenRing(tokens.map((m) => ({ signum: 1, mag: m })), owners);
    const pairs = tokens.map((m, i) => [m, owners[i]]).sort((a, b) => a[0] - b[0]);
    const sortedMags = pairs.map((p) => p[0]);
    const sortedOwners = pairs.map((p) => p[1]);
    const probes = [0, 1, 0xffffffff, ...sortedMags.flatMap((m) => [m - 1, m, m + 1])];
    for (let i = 0; i < 50; i++) probes.push(next());
    for (const h of probes) {
      const hash = h >>> 0;
      const want = ownerByRule(sortedMags, sortedOwners, hash);
      if (ring.lookup(hash) !== want) t.fail(`round ${round} hash ${hash}: got ${ring.lookup(hash)} want ${want}`);
    }
  }
  t.pass();
});

t.test('odd rings: token "0", negative tokens, duplicates, one token, none', async (t) => {
  // Hash 0 has signum 0 and equals token "0"; hash 1 is above it.
  const withZero = ringOf(['0', '100']);
  t.equal(withZero.lookup(0), 0);
  t.equal(withZero.lookup(1), 1);
  t.equal(withZero.lookup(101), 0);
  // "00" is signum 1, mag 0: hash 0 sits at or below the minimum and wraps to it anyway.
  const withZeroZero = ringOf(['00', '100']);
  t.equal(withZeroZero.lookup(0), 0);
  t.equal(withZeroZero.lookup(1), 1);
  // A negative token sorts last, so every hash above the largest positive token lands on it.
  const withNegative = ringOf(['-5', '100', '200']);
  t.same(withNegative.tokens.map(formatDynToken), ['100', '200', '-5']);
  t.equal(withNegative.lookup(150), 2);
  t.equal(withNegative.lookup(201), 0);
  t.equal(withNegative.lookup(0xffffffff), 0);
  t.equal(withNegative.lookup(50), 1);
  const single = ringOf(['42']);
  for (const h of [0, 41, 42, 43, 0xffffffff]) t.equal(single.lookup(h), 0);
  const duplicate = new TokenRing([parseDynToken('10'), parseDynToken('10'), parseDynToken('20')], [7, 8, 9]);
  t.same([...duplicate.owners], [7, 8, 9], 'equal tokens keep their configured order');
  t.equal(duplicate.lookup(10), 7, 'at or below the minimum: the first of the equal tokens');
  t.equal(duplicate.lookup(15), 9);
  const triple = new TokenRing(['5', '10', '10', '10', '20'].map(parseDynToken), [1, 2, 3, 4, 5]);
  t.equal(triple.lookup(10), 3, 'Dynomite\'s search returns the first equal middle it probes, not the first equal');
  t.equal(triple.lookup(9), 2);
  const empty = new TokenRing([], []);
  t.equal(empty.lookup(5), -1);
  t.equal(empty.size, 0);
  t.equal(empty.kind, 'vnode');
  t.throws(() => new TokenRing([parseDynToken('1')], []), RangeError);
  t.throws(() => new TokenRing([parseDynToken('1')], [-1]), RangeError);
});

t.test('dispatchVnode works on SharedArrayBuffer-backed arrays', async (t) => {
  const ring = ringOf(rv.rawHashDispatch.tokens);
  const keys = new Float64Array(new SharedArrayBuffer(8 * ring.size));
  const owners = new Int32Array(new SharedArrayBuffer(4 * ring.size));
  keys.set(ring.keys);
  owners.set(ring.owners);
  for (const [hash, owner] of Object.entries(rv.rawHashDispatch.hashToOwnerIndex)) {
    t.equal(dispatchVnode(keys, owners, ring.size, Number(hash)), owner);
  }
  t.equal(dispatchVnode(keys, owners, 0, 7), -1);
});
