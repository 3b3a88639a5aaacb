// Differential testing for memcached: the same request bytes to a direct memcached and through dynoproxy, replies compared.
// It must never loosen a comparison silently: only cas values (across backends) and clock readings (±1 s) are normalised, and it says so.

import type { Test } from 'tap'
import { McConnection } from './memcached-connection.ts'
import { describeReply } from './memcached-reply-reader.ts'
import type { McReply } from './memcached-reply-reader.ts'
import { startMemcached, startProxiedMemcached } from './memcached.ts'
import type { MemcachedServer } from './memcached.ts'

export type McTarget = {
  name: string
  port: number
  backends: MemcachedServer[]
  /**
   * cas uniques are compared exactly only when one backend sees the same stores, in the same order, as the reference;
   * with several backends each counts on its own, so cas values are replaced by a placeholder.
   */
  casExact: boolean
}

export type McDiffEnv = { reference: MemcachedServer; targets: McTarget[] }

/** A reference memcached plus dynoproxy over 1 and over 3 memcached backends. */
export async function startMcDiffTargets(t: Test): Promise<McDiffEnv> {
  const [reference, one, three] = await Promise.all([
    startMemcached(t),
    startProxiedMemcached(t, { backends: 1 }),
    startProxiedMemcached(t, { backends: 3 }),
  ])
  return {
    reference,
    targets: [
      { name: 'proxy, 1 backend', port: one.port, backends: one.backends, casExact: true },
      { name: 'proxy, 3 backends', port: three.port, backends: three.backends, casExact: false },
    ],
  }
}

/** Small seeded PRNG (mulberry32), so a failing split can be replayed from the seed in the message. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` distinct sorted cut offsets strictly inside [0, length). */
export function randomCuts(length: number, count: number, random: () => number): number[] {
  const cuts = new Set<number>()
  while (cuts.size < Math.min(count, length - 1)) cuts.add(1 + Math.floor(random() * (length - 1)))
  return [...cuts].sort((a, b) => a - b)
}

/** How the bytes of a stage reach a proxy: one write, random pieces, or one byte per write. */
export type SplitMode = 'whole' | { seed: number; pieces: number } | 'bytes'

/** Clock readings in replies (mg t/l flags, me exp=/la=) are compared within one second: two servers tick apart. */
type Normalised = { text: string; clocks: number[] }

const CLOCK_FLAGS = new Set(['t', 'l'])

function normaliseLine(line: string, casExact: boolean, clocks: number[]): string {
  const tokens = line.split(' ')
  const kind = tokens[0]
  if (kind === 'VALUE') {
    if (tokens.length === 5 && !casExact) tokens[4] = '<cas>'
    return tokens.join(' ')
  }
  if (kind === 'ME') {
    return tokens
      .map((tok, i) => {
        if (i < 2) return tok
        const [name, value] = tok.split('=')
        if (name === 'exp' || name === 'la') {
          clocks.push(Number(value))
          return `${name}=<clock>`
        }
        if (name === 'cas' && !casExact) return 'cas=<cas>'
        return tok
      })
      .join(' ')
  }
  if (kind === 'VA' || kind === 'HD' || kind === 'EN' || kind === 'NF' || kind === 'NS' || kind === 'EX') {
    return tokens
      .map((tok, i) => {
        if (i === 0 || (kind === 'VA' && i === 1)) return tok
        if (CLOCK_FLAGS.has(tok[0]!) && /^-?\d+$/.test(tok.slice(1))) {
          clocks.push(Number(tok.slice(1)))
          return `${tok[0]}<clock>`
        }
        if (tok[0] === 'c' && /^\d+$/.test(tok.slice(1)) && !casExact) return 'c<cas>'
        return tok
      })
      .join(' ')
  }
  return line
}

/** The reply with cas and clock readings replaced in its lines; data blocks are kept byte for byte. */
export function normaliseReply(reply: McReply, casExact: boolean): Normalised {
  const raw = reply.raw
  const clocks: number[] = []
  const out: string[] = []
  let pos = 0
  while (pos < raw.length) {
    const eol = raw.indexOf('\r\n', pos)
    if (eol < 0) throw new Error(`unterminated line in reply ${describeReply(reply)}`)
    const line = raw.toString('latin1', pos, eol)
    out.push(normaliseLine(line, casExact, clocks))
    pos = eol + 2
    const tokens = line.split(' ')
    const size = tokens[0] === 'VALUE' ? Number(tokens[3]) : tokens[0] === 'VA' ? Number(tokens[1]) : -1
    if (size >= 0) {
      out.push(`<data ${raw.toString('latin1', pos, pos + size)}>`)
      pos += size + 2
    }
  }
  return { text: out.join('\r\n'), clocks }
}

function clocksAgree(got: readonly number[], want: readonly number[]): boolean {
  if (got.length !== want.length) return false
  // -1 (no expiry) must match exactly; two real readings may straddle a second.
  return got.every((g, i) => (g < 0 || want[i]! < 0 ? g === want[i] : Math.abs(g - want[i]!) <= 1))
}

/** Compares replies from a target with the reference's; one assertion for the texts, one for the clocks. */
export function compareReplies(t: Test, got: readonly McReply[], want: readonly McReply[], casExact: boolean, label: string): void {
  const g = got.map((r) => normaliseReply(r, casExact))
  const w = want.map((r) => normaliseReply(r, casExact))
  t.same(g.map((x) => x.text), w.map((x) => x.text), `${label}: same replies${casExact ? '' : ' (cas values normalised)'}`)
  const bad = g.findIndex((x, i) => w[i] === undefined || !clocksAgree(x.clocks, w[i]!.clocks))
  if (bad >= 0 && g.length === w.length) t.fail(`${label}: clock readings of reply ${bad} differ by more than 1 s`, { got: g[bad]!.clocks, want: w[bad]!.clocks })
}

/** Bytes the build function gets to see: this server's replies of the previous stage (to pick cas values from). */
export type StageBuilder = (previous: readonly McReply[]) => string | Buffer

/** The cas unique in a VALUE line (gets/gats) or a meta reply's c flag. */
export function casOf(reply: McReply | undefined): string {
  if (reply === undefined) throw new Error('casOf: no reply')
  const tokens = reply.head.split(' ')
  if (tokens[0] === 'VALUE' && tokens.length === 5) return tokens[4]!
  const c = tokens.find((tok, i) => i > 0 && /^c\d+$/.test(tok))
  if (c === undefined) throw new Error(`no cas in ${describeReply(reply)}`)
  return c.slice(1)
}

function countMn(bytes: Buffer): number {
  let n = 0
  for (let at = bytes.indexOf('mn\r\n'); at >= 0; at = bytes.indexOf('mn\r\n', at + 4)) {
    if (at === 0 || bytes[at - 1] === 10) n++
  }
  return n
}

/**
 * Long-lived connections to the reference and every target; each stage is written to all of them (to the reference
 * always in one write, to the targets as the split mode says) and must end with `mn`, which closes the batch.
 */
export class McDiffSession {
  private readonly t: Test
  private readonly env: McDiffEnv
  private readonly conns: McConnection[]
  private previous: McReply[][]

  private constructor(t: Test, env: McDiffEnv, conns: McConnection[]) {
    this.t = t
    this.env = env
    this.conns = conns
    this.previous = conns.map(() => [])
  }

  static async open(t: Test, env: McDiffEnv): Promise<McDiffSession> {
    const conns = await Promise.all([env.reference.port, ...env.targets.map((x) => x.port)].map((port) => McConnection.connect(port, { t })))
    return new McDiffSession(t, env, conns)
  }

  /** Runs one stage everywhere and compares; returns the reference's replies. */
  async stage(label: string, build: StageBuilder, split: SplitMode = 'whole'): Promise<McReply[]> {
    const bytesFor = this.conns.map((_, i) => {
      const b = build(this.previous[i]!)
      return Buffer.isBuffer(b) ? b : Buffer.from(b, 'latin1')
    })
    const mns = countMn(bytesFor[0]!)
    if (mns === 0) throw new Error(`stage ${label}: must end with mn`)
    const results = await Promise.all(
      this.conns.map(async (conn, i) => {
        const bytes = bytesFor[i]!
        if (i === 0 || split === 'whole') conn.write(bytes)
        else if (split === 'bytes') await conn.writeInPieces(bytes, Array.from({ length: bytes.length - 1 }, (_, k) => k + 1), 0)
        else await conn.writeInPieces(bytes, randomCuts(bytes.length, split.pieces - 1, seededRandom(split.seed)))
        return conn.readThroughMn(mns, 20_000)
      }),
    )
    const want = results[0]!
    if (process.env['DYNOPROXY_ITEST_DUMP'] === '1') for (const r of want) this.t.comment(`${label}: ${describeReply(r)}`)
    const how = split === 'whole' ? 'one write' : split === 'bytes' ? 'one byte per write' : `${split.pieces} pieces, seed ${split.seed}`
    this.env.targets.forEach((target, ti) => {
      compareReplies(this.t, results[ti + 1]!, want, target.casExact, `${label} [${target.name}, ${how}]`)
    })
    this.previous = results
    return want
  }

  close(): void {
    for (const c of this.conns) c.destroy()
  }
}
