// Incremental readers of large multi-key replies (memcached get, RESP MGET) for tests that stream hundreds of MiB: each value is
// checked by length and its first bytes, never kept whole. It must never buffer more than one header line of the reply.

import net from 'node:net'
import { readFileSync } from 'node:fs'

export type StreamItem = { key: string; len: number; head: string } | null

/** A value that names its key and index in its first bytes, then filler: order and identity are visible from the head alone. */
export function bigValue(key: string, bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x2e)
  b.write(`<${key}>`, 0, 'latin1')
  return b
}

const HEAD = 24

/** Reads a memcached retrieval reply (VALUE items, then END or an error line) as it streams in. */
export class McStreamReader {
  items: StreamItem[] = []
  ended = false
  /** The error line, when the reply was one. */
  error: string | null = null
  bytes = 0
  /** Bytes after the reply's end in the read that ended it (the next reply of a pipeline). */
  rest: Buffer = Buffer.alloc(0)
  private pending: Buffer = Buffer.alloc(0)
  private dataLeft = 0
  private cur: { key: string; len: number; head: string } | null = null

  feed(chunk: Buffer): void {
    this.bytes += chunk.length
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = Buffer.alloc(0)
    let pos = 0
    while (pos < buf.length && !this.ended) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, buf.length - pos)
        const cur = this.cur!
        if (cur.head.length < HEAD) cur.head += buf.toString('latin1', pos, pos + Math.min(take, HEAD - cur.head.length))
        this.dataLeft -= take
        pos += take
        if (this.dataLeft === 0) {
          cur.head = cur.head.slice(0, Math.min(HEAD, cur.len))
          this.items.push(cur)
          this.cur = null
        }
        continue
      }
      const nl = buf.indexOf('\r\n', pos, 'latin1')
      if (nl < 0) {
        this.pending = Buffer.from(buf.subarray(pos))
        return
      }
      const line = buf.toString('latin1', pos, nl)
      pos = nl + 2
      if (line === 'END') {
        this.ended = true
        this.rest = Buffer.from(buf.subarray(pos))
      } else if (line.startsWith('VALUE ')) {
        const [, key, , len] = line.split(' ')
        this.cur = { key: key!, len: Number(len), head: '' }
        this.dataLeft = Number(len) + 2
      } else {
        this.error = line
        this.ended = true
      }
    }
  }
}

/** Reads a RESP array reply of bulk strings / nils (or an error) as it streams in. */
export class RespStreamReader {
  count = -1
  items: StreamItem[] = []
  ended = false
  error: string | null = null
  bytes = 0
  /** Bytes after the reply's end in the read that ended it (the next reply of a pipeline). */
  rest: Buffer = Buffer.alloc(0)
  private pending: Buffer = Buffer.alloc(0)
  private dataLeft = 0
  private cur: { key: string; len: number; head: string } | null = null

  feed(chunk: Buffer): void {
    this.bytes += chunk.length
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = Buffer.alloc(0)
    let pos = 0
    while (pos < buf.length && !this.ended) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, buf.length - pos)
        const cur = this.cur!
        if (cur.head.length < HEAD) cur.head += buf.toString('latin1', pos, pos + Math.min(take, HEAD - cur.head.length))
        this.dataLeft -= take
        pos += take
        if (this.dataLeft === 0) {
          cur.head = cur.head.slice(0, Math.min(HEAD, cur.len))
          this.push(cur)
          this.cur = null
          this.finishAt(buf, pos)
        }
        continue
      }
      const nl = buf.indexOf('\r\n', pos, 'latin1')
      if (nl < 0) {
        this.pending = Buffer.from(buf.subarray(pos))
        return
      }
      const line = buf.toString('latin1', pos, nl)
      pos = nl + 2
      if (this.count < 0) {
        if (line.startsWith('*')) {
          this.count = Number(line.slice(1))
          if (this.count === 0) this.ended = true
        } else {
          this.error = line
          this.ended = true
        }
      } else if (line === '$-1' || line === '_') {
        this.push(null)
        this.finishAt(buf, pos)
      } else if (line.startsWith('$')) {
        const len = Number(line.slice(1))
        this.cur = { key: '', len, head: '' }
        this.dataLeft = len + 2
      } else {
        this.error = `element: ${line}`
        this.ended = true
      }
    }
  }

  private push(item: StreamItem): void {
    this.items.push(item)
    if (this.items.length === this.count) this.ended = true
  }

  private finishAt(buf: Buffer, pos: number): void {
    if (this.ended) this.rest = Buffer.from(buf.subarray(pos))
  }
}

/** A process's resident set (VmRSS) in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  return m === null ? 0 : Number(m[1]) / 1024
}

/**
 * Sends `request` on a fresh connection and feeds the reply to `reader` until it ends and `thenBytes` more came (or the deadline), sampling `pid`'s RSS.
 * `onChunk` sees the reader after every read (for checks while the reply is still arriving).
 */
export async function streamRequest(
  port: number,
  request: Buffer,
  reader: { feed(b: Buffer): void; readonly ended: boolean; readonly rest: Buffer },
  opts: { pid?: number; deadlineMs?: number; then?: Buffer; thenBytes?: number; onChunk?: () => void } = {},
): Promise<{ peakRssMiB: number; ms: number; after: Buffer }> {
  const sock = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve)
    sock.once('error', reject)
  })
  let peak = opts.pid === undefined ? 0 : rssMiB(opts.pid)
  const sampler = opts.pid === undefined ? null : setInterval(() => (peak = Math.max(peak, rssMiB(opts.pid!))), 25)
  const t0 = performance.now()
  let after = Buffer.alloc(0)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reply not complete after ${opts.deadlineMs ?? 60_000} ms`)), opts.deadlineMs ?? 60_000)
      sock.on('data', (d: Buffer) => {
        if (reader.ended) after = Buffer.concat([after, d])
        else {
          reader.feed(d)
          if (reader.ended) after = Buffer.concat([after, reader.rest])
        }
        opts.onChunk?.()
        if (reader.ended && after.length >= (opts.thenBytes ?? 0)) {
          clearTimeout(timer)
          resolve()
        }
      })
      sock.on('close', () => {
        clearTimeout(timer)
        if (reader.ended) resolve()
        else reject(new Error('connection closed before the reply ended'))
      })
      sock.write(opts.then === undefined ? request : Buffer.concat([request, opts.then]))
    })
  } finally {
    if (sampler !== null) clearInterval(sampler)
    sock.destroy()
  }
  if (opts.pid !== undefined) peak = Math.max(peak, rssMiB(opts.pid))
  return { peakRssMiB: peak, ms: performance.now() - t0, after }
}
