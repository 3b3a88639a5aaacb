// The cluster tests' own model of Dynomite placement: evenly spaced rack tokens and "first token >= hash, wrapping".
// It must never reuse the proxy's ring code: only the key hash (golden-vector tested) comes from src, so a routing bug shows up as a mismatch.

import { hashFunction, hashTagRange } from '../../src/topology/index.ts'

const TWO_32 = 2 ** 32
/** Dynomite's sample token, so a 1-node rack looks like the documented configs. */
export const TOKEN_OFFSET = 101_134_286

const murmur = hashFunction('murmur')
const tagRange = new Int32Array(2)

/** Tokens for the n nodes of one rack: i * floor(2^32 / n) + offset, all below 2^32. */
export function rackTokens(n: number): number[] {
  const step = Math.floor(TWO_32 / n)
  return Array.from({ length: n }, (_, i) => (i * step + TOKEN_OFFSET) % TWO_32)
}

/** Dynomite's key hash with `hash: murmur` and `hash_tag: "{}"` (the cluster configs the helper writes). */
export function keyHash(key: string | Buffer): number {
  const buf = typeof key === 'string' ? Buffer.from(key) : key
  hashTagRange(buf, 0, buf.length, 0x7b, 0x7d, tagRange)
  return murmur(buf, tagRange[0]!, tagRange[1]!)
}

/** Index (into `tokens`, one token per node) of the node owning `hash`: the first token >= hash, else the smallest. */
export function ownerIndex(tokens: readonly number[], hash: number): number {
  let best = -1
  let smallest = 0
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token < tokens[smallest]!) smallest = i
    if (token >= hash && (best === -1 || token < tokens[best]!)) best = i
  }
  return best === -1 ? smallest : best
}

/** The first `count` keys `${prefix}:<i>` that the node at `index` of a rack with `tokens` owns. */
export function keysOwnedBy(tokens: readonly number[], index: number, prefix: string, count = 1): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) {
    if (i > 100_000) throw new Error(`no key with prefix ${prefix} lands on node ${index}`)
    const key = `${prefix}:${i}`
    if (ownerIndex(tokens, keyHash(key)) === index) out.push(key)
  }
  return out
}
