// Raw-socket memcached client for tests: writes exact bytes (whole or cut into pieces) and reads whole replies with a deadline.
// It must never retry, reconnect or reorder: what the server sends is what the test sees.

import net from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import type { Test } from 'tap'
import { McReplyReader } from './memcached-reply-reader.ts'
import type { McReply } from './memcached-reply-reader.ts'

export class McConnection {
  readonly socket: net.Socket
  readonly reader = new McReplyReader()
  /** Resolves when the peer closed or the socket failed; never rejects. */
  readonly closed: Promise<{ error?: Error }>
  private isClosed = false
  private readonly waiters = new Set<() => void>()
  private lastError: Error | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true
        this.wake()
        resolve(this.lastError === undefined ? {} : { error: this.lastError })
      })
    })
    socket.on('error', (err) => {
      this.lastError = err
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk)
      } catch (err) {
        this.lastError = err as Error
        socket.destroy()
      }
      this.wake()
    })
  }

  /** Connects, failing after deadlineMs. Registers teardown on `t` when given. */
  static async connect(port: number, opts: { t?: Test; deadlineMs?: number } = {}): Promise<McConnection> {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    const deadlineMs = opts.deadlineMs ?? 5000
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect to 127.0.0.1:${port} timed out after ${deadlineMs} ms`))
      }, deadlineMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
    const conn = new McConnection(socket)
    opts.t?.teardown(() => conn.destroy())
    return conn
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  /** Why the socket failed (or the reply framer threw), if it did. */
  get error(): Error | undefined {
    return this.lastError
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes)
  }

  /**
   * Writes `bytes` as separate pieces cut at `cuts` (sorted offsets), each after the previous one has been handed
   * to the kernel plus a short pause, so the server sees them in separate reads.
   */
  async writeInPieces(bytes: Buffer, cuts: readonly number[], pauseMs = 1): Promise<void> {
    let from = 0
    for (const cut of [...cuts, bytes.length]) {
      if (cut <= from) continue
      await new Promise<void>((resolve, reject) => this.socket.write(bytes.subarray(from, cut), (err) => (err ? reject(err) : resolve())))
      from = cut
      await delay(pauseMs)
    }
  }

  /** Waits until `done(replies so far)` holds; rejects on deadline or on close before it did. */
  async waitUntil(done: (replies: readonly McReply[]) => boolean, deadlineMs: number, what: string): Promise<void> {
    if (done(this.reader.peek())) return
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (done(this.reader.peek())) {
          finish()
          resolve()
        } else if (this.isClosed) {
          finish()
          const why = this.lastError === undefined ? '' : `: ${this.lastError.message}`
          reject(new Error(`connection closed before ${what} (${this.reader.pending} replies, ${this.reader.bufferedBytes} bytes pending)${why}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what} (got ${this.reader.pending} replies, ${this.reader.bufferedBytes} bytes pending)`))
      }, deadlineMs)
      const finish = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Waits for exactly n more replies and takes them. */
  async read(n: number, deadlineMs = 5000): Promise<McReply[]> {
    await this.waitUntil((r) => r.length >= n, deadlineMs, `${n} replies`)
    return this.reader.take(n)
  }

  /** Takes every reply up to and including the `count`-th "MN" (the meta no-op closing a batch). */
  async readThroughMn(count = 1, deadlineMs = 10_000): Promise<McReply[]> {
    let at = -1
    await this.waitUntil(
      (replies) => {
        let seen = 0
        for (let i = 0; i < replies.length; i++) {
          if (replies[i]!.head === 'MN' && ++seen === count) {
            at = i
            return true
          }
        }
        return false
      },
      deadlineMs,
      `${count} MN replies`,
    )
    return this.reader.take(at + 1)
  }

  /** Sends one request (a line, or line plus data block) and returns its single reply. */
  async call(request: Buffer | string, deadlineMs = 5000): Promise<McReply> {
    this.write(request)
    const [reply] = await this.read(1, deadlineMs)
    return reply!
  }

  /** Sends one request and returns its reply's first line. */
  async head(request: Buffer | string, deadlineMs = 5000): Promise<string> {
    return (await this.call(request, deadlineMs)).head
  }

  /** Waits until the peer closes the connection; rejects on deadline. */
  async waitClosed(deadlineMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${deadlineMs} ms`)), deadlineMs)
    })
    try {
      await Promise.race([this.closed, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  destroy(): void {
    this.socket.destroy()
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** Opens a connection, sends one request, returns its reply, closes: for probing a server from the side. */
export async function mcCallOnce(port: number, request: Buffer | string, deadlineMs = 5000): Promise<McReply> {
  const conn = await McConnection.connect(port, { deadlineMs })
  try {
    return await conn.call(request, deadlineMs)
  } finally {
    conn.destroy()
  }
}

/** A storage request with its data block: `set key 0 0 3\r\nabc\r\n` (verb and extra tokens as given). */
export function storage(verb: string, key: string, value: Buffer | string, opts: { flags?: number; exptime?: number; cas?: string; noreply?: boolean } = {}): Buffer {
  const data = Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1')
  const cas = opts.cas === undefined ? '' : ` ${opts.cas}`
  const line = `${verb} ${key} ${opts.flags ?? 0} ${opts.exptime ?? 0} ${data.length}${cas}${opts.noreply === true ? ' noreply' : ''}\r\n`
  return Buffer.concat([Buffer.from(line, 'latin1'), data, Buffer.from('\r\n')])
}
