// The fuzz suite's checks after every batch: the proxy process alive with no error logged, its RSS under the bound, and a
// well-behaved canary client (ioredis, or raw memcached) still reading back exactly its own values. It must never share a
// connection or a key with the fuzz connections.

import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import { alive, rssOf, troubleLines, SEED } from './fuzz-kit.ts'

/** How far above its settled RSS the proxy may go while fuzzed (inputs are small; a bound far above them catches a leak or a reservation). */
export const RSS_HEADROOM = 256 * 1024 * 1024

export type ProxyUnderTest = { pid: number; output(): string; name: string }

/** Process alive, nothing logged at error level, RSS bounded. Returns the RSS. */
export function checkProcess(t: Test, proxy: ProxyUnderTest, baselineRss: number, where: string): number {
  if (!alive(proxy.pid)) {
    t.fail(`${proxy.name} died (${where}, seed ${SEED})`, { output: proxy.output().slice(-4000) })
    return 0
  }
  const troubles = troubleLines(proxy.output())
  if (troubles.length > 0) t.fail(`${proxy.name} logged trouble (${where}, seed ${SEED})`, { lines: troubles.slice(-5) })
  const rss = rssOf(proxy.pid)
  if (rss > baselineRss + RSS_HEADROOM) t.fail(`${proxy.name} RSS ${(rss / 2 ** 20).toFixed(0)} MiB past ${((baselineRss + RSS_HEADROOM) / 2 ** 20).toFixed(0)} MiB (${where}, seed ${SEED})`)
  return rss
}

function valueFor(i: number, round: number): Buffer {
  // Binary and text bytes, a size that changes with the round.
  return Buffer.concat([Buffer.from(`canary-${SEED}-${i}-${round}-`), Buffer.from([0, 13, 10, 255, i & 255]), Buffer.alloc((i * 37 + round) % 300, 0x61 + (round % 26))])
}

/** An ioredis client with its own keys; it must never reconnect (a dropped connection is a failure, not a retry). */
export class RedisCanary {
  private readonly redis: Redis
  private readonly keys: string[]
  private round = 0
  dropped = false

  constructor(port: number, keys: string[], password?: string) {
    this.keys = keys
    this.redis = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 8000, enableOfflineQueue: false })
    this.redis.on('error', () => {})
    this.redis.on('end', () => (this.dropped = true))
  }

  async start(): Promise<void> {
    await this.redis.connect()
    await this.write()
  }

  private async write(): Promise<void> {
    const p = this.redis.pipeline()
    this.keys.forEach((k, i) => p.set(k, valueFor(i, this.round)))
    const res = await p.exec()
    for (const [err] of res ?? []) if (err !== null) throw err
  }

  /** Reads every key back (must be exactly the last values written), then writes the next round's. Null when all is well. */
  async verify(): Promise<string | null> {
    if (this.dropped) return 'the canary connection was dropped'
    try {
      const got = await Promise.all(this.keys.map((k) => this.redis.getBuffer(k)))
      for (let i = 0; i < this.keys.length; i++) {
        const want = valueFor(i, this.round)
        if (got[i] === null || !want.equals(got[i]!)) return `key ${this.keys[i]}: want ${JSON.stringify(want.toString('latin1'))}, got ${JSON.stringify(got[i]?.toString('latin1') ?? null)}`
      }
      this.round++
      await this.write()
      return null
    } catch (err) {
      return `canary request failed: ${(err as Error).message}`
    }
  }

  close(): void {
    this.redis.disconnect()
  }
}

/** A raw memcached text client with its own keys. */
export class MemcachedCanary {
  private conn: McConnection | null = null
  private round = 0
  private readonly port: number
  private readonly keys: string[]

  constructor(port: number, keys: string[]) {
    this.port = port
    this.keys = keys
  }

  async start(t: Test): Promise<void> {
    this.conn = await McConnection.connect(this.port, { t })
    await this.write()
  }

  private async write(): Promise<void> {
    for (let i = 0; i < this.keys.length; i++) {
      const r = await this.conn!.call(storage('set', this.keys[i]!, valueFor(i, this.round), { flags: i }), 8000)
      if (r.head !== 'STORED') throw new Error(`canary set ${this.keys[i]}: ${r.head}`)
    }
  }

  async verify(): Promise<string | null> {
    try {
      const r = await this.conn!.call(`get ${this.keys.join(' ')}\r\n`, 8000)
      const text = r.raw.toString('latin1')
      for (let i = 0; i < this.keys.length; i++) {
        const want = valueFor(i, this.round)
        const block = `VALUE ${this.keys[i]} ${i} ${want.length}\r\n${want.toString('latin1')}\r\n`
        if (!text.includes(block)) return `key ${this.keys[i]}: want ${JSON.stringify(block)} in ${JSON.stringify(text.slice(0, 2000))}`
      }
      this.round++
      await this.write()
      return null
    } catch (err) {
      return `canary request failed: ${(err as Error).message}`
    }
  }

  close(): void {
    this.conn?.destroy()
  }
}
