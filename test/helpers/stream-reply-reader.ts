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

/**
 * What both readers share: bulk values consumed by length (only their first HEAD bytes kept), header lines split at CRLF (one kept
 * at most while incomplete). A subclass says what a line means, and what a finished value does.
 */
abstract class StreamReader {
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

  /** A header line (CRLF stripped); true when the reply ended with it and what follows is `rest`. */
  protected abstract line(text: string): boolean

  /** A value (or nil) is complete. */
  protected item(it: StreamItem): void {
    this.items.push(it)
  }

  /** The next `len` bytes (and CRLF) are one value. */
  protected value(key: string, len: number): void {
    this.cur = { key, len, head: '' }
    this.dataLeft = len + 2
  }

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
          this.cur = null
          this.item(cur)
          if (this.ended) this.rest = Buffer.from(buf.subarray(pos))
        }
        continue
      }
      const nl = buf.indexOf('\r\n', pos, 'latin1')
      if (nl < 0) {
        this.pending = Buffer.from(buf.subarray(pos))
        return
      }
      const text = buf.toString('latin1', pos, nl)
      pos = nl + 2
      if (this.line(text)) this.rest = Buffer.from(buf.subarray(pos))
    }
  }
}

/** Reads a memcached retrieval reply (VALUE items, then END or an error line) as it streams in. */
export class McStreamReader extends StreamReader {
  protected line(text: string): boolean {
    if (text === 'END') {
      this.ended = true
      return true
    }
    if (text.startsWith('VALUE ')) {
      const [, key, , len] = text.split(' ')
      this.value(key!, Number(len))
    } else {
      this.error = text
      this.ended = true
    }
    return false
  }
}

/** Reads a RESP array reply of bulk strings / nils (or an error) as it streams in. */
export class RespStreamReader extends StreamReader {
  count = -1

  protected line(text: string): boolean {
    if (this.count < 0) {
      if (text.startsWith('*')) {
        this.count = Number(text.slice(1))
        if (this.count === 0) this.ended = true
      } else {
        this.error = text
        this.ended = true
      }
    } else if (text === '$-1' || text === '_') {
      this.item(null)
      return this.ended
    } else if (text.startsWith('$')) {
      this.value('', Number(text.slice(1)))
    } else {
      this.error = `element: ${text}`
      this.ended = true
    }
    return false
  }

  protected override item(it: StreamItem): void {
    super.item(it)
    if (this.items.length === this.count) this.ended = true
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
