// Tests hash tag extraction against Dynomite's redis parser vectors ("{}", "##", none) and twemproxy's rule.
// Reads the vector files; starts nothing and touches no network.

import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  hashFunction, hashTagRange, parseDynToken, TokenRing, twemproxyHashTagRange,
} from '../../../src/topology/index.ts';

interface TagVector {
  parseError?: boolean;
  hashedHex: string;
  hashedText: string;
  tagOffset: number;
  murmur: string;
  ownerIndexMultiKey: number;
  ownerIndexSingleKey: number | 'local';
}
interface TagVectors {
  ring: { hash: string; tokens: string[] };
  byHashTag: Record<string, Record<string, TagVector>>;
  keyText: Record<string, string>;
}
const hv = JSON.parse(readFileSync('/work/shared/vectors/hashtag-vectors.json', 'utf8')) as TagVectors;
const murmur = hashFunction('murmur');
const ring = new TokenRing(hv.ring.tokens.map(parseDynToken), hv.ring.tokens.map((_, i) => i));

for (const [tag, entries] of Object.entries(hv.byHashTag)) {
  t.test(`hash tag ${tag}: hashed bytes, murmur and owner from Dynomite's redis parser`, async (t) => {
    t.equal(hv.ring.hash, 'murmur');
    const out = new Int32Array(2);
    let checked = 0;
    for (const [hex, want] of Object.entries(entries)) {
      if (want.parseError === true) {
        t.equal(hex, '', 'only the empty key is a parse error; it never reaches hashing');
        continue;
      }
      const key = Buffer.from(hex, 'hex');
      t.equal(key.toString('latin1'), hv.keyText[hex]);
      // Pad with the closing tag character so a scan that strays past `end` finds a tag and fails the test.
      for (const pad of [0, 3]) {
        const fill = tag === '(none)' ? 0x7d : tag.charCodeAt(1);
        const big = Buffer.alloc(key.length + 2 * pad, fill);
        key.copy(big, pad);
        let found = false;
        if (tag === '(none)') {
          out[0] = pad;
          out[1] = pad + key.length;
        } else {
          found = hashTagRange(big, pad, pad + key.length, tag.charCodeAt(0), tag.charCodeAt(1), out);
        }
        const label = `${tag} ${JSON.stringify(hv.keyText[hex])} pad ${pad}`;
        t.equal(big.subarray(out[0], out[1]).toString('hex'), want.hashedHex, `${label}: hashed bytes`);
        t.equal(out[0] - pad, want.tagOffset, `${label}: offset`);
        t.equal(found, want.tagOffset > 0, `${label}: found`);
        const hash = murmur(big, out[0], out[1]);
        t.equal(hash, Number(want.murmur), `${label}: murmur`);
        t.equal(ring.lookup(hash), want.ownerIndexMultiKey, `${label}: multi-key owner`);
        const single = out[1] === out[0] ? 'local' : ring.lookup(hash);
        t.equal(single, want.ownerIndexSingleKey, `${label}: single-key owner`);
      }
      checked++;
    }
    t.equal(checked, 24);
  });
}

t.test('twemproxy ignores an empty tag and hashes the whole key', async (t) => {
  const out = new Int32Array(2);
  const cases: Array<[string, string, boolean]> = [
    ['{user1}a', 'user1', true],
    ['a{}b', 'a{}b', false],
    ['{}', '{}', false],
    ['{}{x}', '{}{x}', false],
    ['x{y}z{w}', 'y', true],
    ['{{a}}', '{a', true],
    ['a}b{c}', 'c', true],
    ['{a', '{a', false],
  ];
  for (const [text, hashed, found] of cases) {
    const key = Buffer.from(text, 'latin1');
    t.equal(twemproxyHashTagRange(key, 0, key.length, 0x7b, 0x7d, out), found, text);
    t.equal(key.subarray(out[0], out[1]).toString('latin1'), hashed, text);
  }
  const hashes = Buffer.from('a##b#c#', 'latin1');
  t.equal(twemproxyHashTagRange(hashes, 0, hashes.length, 0x23, 0x23, out), false, 'the empty ## tag does not count');
  t.same([out[0], out[1]], [0, hashes.length]);
});
