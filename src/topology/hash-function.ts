// The tables of key hash functions by config name: Dynomite's (the spec) and twemproxy 0.5's where they differ.
// Pure: no I/O; every HashFn it hands out hashes a byte range without allocating.

import { crc16, crc32, crc32a } from './crc.ts';
import {
  fnv1_32, fnv1_64, fnv1a_32, fnv1a_64, twemproxyFnv1_32, twemproxyFnv1_64, twemproxyFnv1a_32, twemproxyFnv1a_64,
} from './fnv.ts';
import { hsieh, twemproxyHsieh } from './hsieh.ts';
import { jenkins, oneAtATime } from './jenkins.ts';
import { md5 } from './md5.ts';
import { murmur, murmur3 } from './murmur.ts';

export type HashName =
  | 'one_at_a_time' | 'md5' | 'crc16' | 'crc32' | 'crc32a' | 'fnv1_64' | 'fnv1a_64'
  | 'fnv1_32' | 'fnv1a_32' | 'hsieh' | 'murmur' | 'jenkins' | 'murmur3';

/** Hashes bytes [start, end) of buf to a uint32. Must not allocate per call. */
export type HashFn = (buf: Uint8Array, start: number, end: number) => number;

const HASH_FUNCTIONS: Readonly<Record<HashName, HashFn>> = {
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
  murmur3,
};

/** In the order of Dynomite's HASH_CODEC table. */
export const HASH_NAMES: readonly HashName[] = Object.freeze([
  'one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64',
  'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins', 'murmur3',
] as const);

/** Dynomite's default (CONF_DEFAULT_HASH). */
export const DEFAULT_HASH: HashName = 'murmur';

export function isHashName(name: string): name is HashName {
  return Object.hasOwn(HASH_FUNCTIONS, name);
}

export function hashFunction(name: HashName): HashFn {
  // Config text reaches here typed as HashName; an unknown name must fail loudly, not hash with undefined.
  if (!isHashName(name)) throw new RangeError(`unknown hash function: ${String(name)}`);
  return HASH_FUNCTIONS[name];
}

/** twemproxy's hash names: Dynomite's without murmur3, which twemproxy never had. */
export type TwemproxyHashName = Exclude<HashName, 'murmur3'>;

// twemproxy reads keys through signed chars in fnv* and hsieh, so keys with bytes >= 0x80 hash differently from
// Dynomite; every other function is shared. Placement against a running nutcracker 0.5.0 confirms both tables.
const TWEMPROXY_HASH_FUNCTIONS: Readonly<Record<TwemproxyHashName, HashFn>> = {
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  murmur,
  jenkins,
  fnv1_64: twemproxyFnv1_64,
  fnv1a_64: twemproxyFnv1a_64,
  fnv1_32: twemproxyFnv1_32,
  fnv1a_32: twemproxyFnv1a_32,
  hsieh: twemproxyHsieh,
};

/** For twemproxy-compatible pools: the function twemproxy (nutcracker 0.5.0) uses for `name`. */
export function twemproxyHashFunction(name: TwemproxyHashName): HashFn {
  if (!Object.hasOwn(TWEMPROXY_HASH_FUNCTIONS, name)) {
    throw new RangeError(`twemproxy has no hash function ${String(name)}`);
  }
  return TWEMPROXY_HASH_FUNCTIONS[name];
}
