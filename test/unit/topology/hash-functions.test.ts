// Tests every key hash against all 86 Dynomite golden vectors, plus murmur3, md5, crc and twemproxy variants.
// Reads the vector files; starts nothing and touches no network.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import t from 'tap';
import {
  HASH_NAMES, hashFunction, isHashName, md5Words, murmurHash3x86, twemproxyHashFunction,
} from '../../../src/topology/index.ts';
import type { HashName, TwemproxyHashName } from '../../../src/topology/index.ts';

const VECTORS = '/work/shared/vectors';
const hashVectors = JSON.parse(readFileSync(`${VECTORS}/hash-vectors.json`, 'utf8')) as
  Record<string, Record<string, string | null>>;
const hashKeys = JSON.parse(readFileSync(`${VECTORS}/hash-keys.json`, 'utf8')) as
  Record<string, { length: number; description: string }>;

t.test('HASH_NAMES is exactly Dynomite\'s HASH_CODEC table', async (t) => {
  t.same([...HASH_NAMES], Object.keys(hashVectors));
  t.equal(HASH_NAMES.length, 13);
  for (const name of HASH_NAMES) t.ok(isHashName(name));
  t.notOk(isHashName('toString'), 'prototype names are not hash names');
  t.throws(() => hashFunction('sha1' as HashName), RangeError);
});

t.test('vector files hold 86 keys for every function', async (t) => {
  t.equal(Object.keys(hashKeys).length, 86);
  for (const name of HASH_NAMES) t.equal(Object.keys(hashVectors[name]).length, 86, name);
});

// Dynomite leaves the token unwritten in exactly these cases; everything else must be reproduced bit for bit.
const EXPECTED_NULLS: Record<string, number> = { hsieh: 1, jenkins: 1, murmur3: 86 };

for (const name of HASH_NAMES) {
  t.test(`${name} matches every Dynomite vector`, async (t) => {
    const fn = hashFunction(name);
    let compared = 0;
    let nulls = 0;
    for (const [hex, want] of Object.entries(hashVectors[name])) {
      const key = Buffer.from(hex, 'hex');
      t.equal(key.length, hashKeys[hex].length, `length of ${hashKeys[hex].description}`);
      if (want === null) {
        nulls++;
        continue;
      }
      const got = fn(key, 0, key.length);
      if (got !== Number(want)) t.fail(`${name}(${hashKeys[hex].description}) = ${got}, want ${want}`);
      compared++;
    }
    t.equal(nulls, EXPECTED_NULLS[name] ?? 0, 'null vectors');
    t.equal(compared + nulls, 86);
    t.pass(`${compared} vectors compared`);
  });
}

t.test('hashes depend only on the bytes in [start, end), not on where they sit', async (t) => {
  for (const name of HASH_NAMES) {
    const fn = hashFunction(name);
    let mismatches = 0;
    for (const hex of Object.keys(hashKeys)) {
      const key = Buffer.from(hex, 'hex');
      const want = fn(key, 0, key.length);
      for (let offset = 0; offset < 8; offset++) {
        // Surround the key with bytes that would change the hash if read.
        const big = Buffer.alloc(key.length + offset + 9, 0xa5);
        key.copy(big, offset);
        if (fn(big, offset, offset + key.length) !== want) mismatches++;
        const u8 = new Uint8Array(big.buffer, big.byteOffset, big.length);
        if (fn(u8, offset, offset + key.length) !== want) mismatches++;
      }
    }
    t.equal(mismatches, 0, name);
  }
});

t.test('every hash returns a uint32', async (t) => {
  const key = randomBytes(300);
  for (const name of HASH_NAMES) {
    const fn = hashFunction(name);
    for (let len = 0; len <= 300; len += 7) {
      const h = fn(key, 0, len);
      if (!(Number.isInteger(h) && h >= 0 && h <= 0xffffffff)) t.fail(`${name} len ${len} gave ${h}`);
    }
  }
  t.pass();
});

t.test('the empty key: hsieh and jenkins return 0 where Dynomite leaves garbage', async (t) => {
  const empty = new Uint8Array(4);
  t.equal(hashFunction('hsieh')(empty, 2, 2), 0);
  t.equal(hashFunction('jenkins')(empty, 2, 2), 0);
  t.equal(hashFunction('murmur')(empty, 2, 2), 0, 'murmur("") = 0 is a real vector');
});

t.test('crc32 is only 15 bits and crc32a is zlib crc32', async (t) => {
  const crc32 = hashFunction('crc32');
  const crc32a = hashFunction('crc32a');
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(i);
    const z = zlibCrc32(key);
    if (crc32a(key, 0, i) !== z) t.fail(`crc32a len ${i}`);
    if (crc32(key, 0, i) !== ((z >>> 16) & 0x7fff)) t.fail(`crc32 len ${i}`);
  }
  t.pass();
});

t.test('md5 agrees with node:crypto around every padding boundary', async (t) => {
  const md5 = hashFunction('md5');
  const words = new Uint32Array(4);
  const lengths = [0, 1, 3, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 70001];
  for (const len of lengths) {
    const key = randomBytes(len + 5);
    const digest = createHash('md5').update(key.subarray(3, 3 + len)).digest();
    t.equal(md5(key, 3, 3 + len), digest.readUInt32LE(0), `md5 len ${len}`);
    md5Words(key, 3, 3 + len, words);
    t.same([...words], [0, 4, 8, 12].map((o) => digest.readUInt32LE(o)), `md5Words len ${len}`);
  }
});

t.test('murmur3 is the published MurmurHash3_x86_32, not Dynomite\'s unwritten token', async (t) => {
  const murmur3 = hashFunction('murmur3');
  const text = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  // Seed-0 values behind the name "murmur3", then published seeded vectors that pin down the algorithm.
  t.equal(murmur3(text(''), 0, 0), 0);
  t.equal(murmur3(text('hello'), 0, 5), 0x248bfa47);
  const fox = text('The quick brown fox jumps over the lazy dog');
  t.equal(murmur3(fox, 0, fox.length), 0x2e4ff723);
  const seeded: Array<[string, number, number]> = [
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\xff\xff\xff\xff', 0, 0x76293b50],
    ['\x21\x43\x65\x87', 0, 0xf55b516b],
    ['\x21\x43\x65\x87', 0x5082edee, 0x2362f9de],
    ['\x21\x43\x65', 0, 0x7e4a8634],
    ['\x21\x43', 0, 0xa0f7b07a],
    ['\x21', 0, 0x72661cf4],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['\0', 0, 0x514e28b7],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ];
  for (const [s, seed, want] of seeded) {
    const b = text(s);
    t.equal(murmurHash3x86(b, 0, b.length, seed), want, `${JSON.stringify(s)} seed 0x${seed.toString(16)}`);
  }
});

t.test('twemproxy hash variants: same as Dynomite below 0x80, sign-extended chars above', async (t) => {
  const ascii = Buffer.from('user:1000 {tag} ~');
  const high = Buffer.from('e282ac', 'hex');
  for (const name of HASH_NAMES) {
    if (name === 'murmur3') {
      t.throws(() => twemproxyHashFunction(name as TwemproxyHashName), RangeError);
      continue;
    }
    const tw = twemproxyHashFunction(name);
    t.equal(tw(ascii, 0, ascii.length), hashFunction(name)(ascii, 0, ascii.length), `${name} on ASCII`);
    const differs = tw(high, 0, high.length) !== hashFunction(name)(high, 0, high.length);
    t.equal(differs, name.startsWith('fnv') || name === 'hsieh', `${name} on "€"`);
  }
  // FNV-1a 32 with the byte 0x80 read as the signed char -128 (0xffffff80).
  const b80 = Uint8Array.of(0x80);
  t.equal(twemproxyHashFunction('fnv1a_32')(b80, 0, 1), Math.imul(0x811c9dc5 ^ 0xffffff80, 0x01000193) >>> 0);
});
