// Raw-socket RESP client for tests: writes exact bytes and reads exactly N replies with a deadline.
// It must never retry, reconnect or reorder: what the server sends is what the test sees.

import net from 'node:net'
import type { Test } from 'tap'
import { RespReplyReader } from './resp-reply-reader.ts'
import type { RespReply } from './resp-reply-reader.ts'

export type CommandArg = string | Buffer | number

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly CommandArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

export function encodeCommands(commands: readonly (readonly CommandArg[])[]): Buffer {
  return Buffer.concat(commands.map(encodeCommand))
}

export class RespConnection {
  readonly socket: net.Socket
  readonly reader = new RespReplyReader()
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
  static async connect(port: number, opts: { t?: Test; deadlineMs?: number; host?: string } = {}): Promise<RespConnection> {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1' })
    socket.setNoDelay(true)
    const deadlineMs = opts.deadlineMs ?? 5000
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect to ${port} timed out after ${deadlineMs} ms`))
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
    const conn = new RespConnection(socket)
    opts.t?.teardown(() => conn.destroy())
    return conn
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes)
  }

  send(...commands: (readonly CommandArg[])[]): void {
    this.socket.write(encodeCommands(commands))
  }

  /** Waits for exactly n more replies; rejects on deadline or on close before they came. */
  async read(n: number, deadlineMs = 5000): Promise<RespReply[]> {
    if (this.reader.pending >= n) return this.reader.take(n)
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.reader.pending >= n) {
          done()
          resolve()
        } else if (this.isClosed) {
          done()
          const why = this.lastError === undefined ? '' : `: ${this.lastError.message}`
          reject(new Error(`connection closed after ${this.reader.pending}/${n} replies${why}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${deadlineMs} ms waiting for ${n} replies (got ${this.reader.pending})`))
      }, deadlineMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
    return this.reader.take(n)
  }

  /** Sends one command and returns its reply. */
  async call(args: readonly CommandArg[], deadlineMs = 5000): Promise<RespReply> {
    this.send(args)
    const [reply] = await this.read(1, deadlineMs)
    return reply!
  }

  /** Sends commands as one pipeline (one write) and returns their replies in order. */
  async pipeline(commands: readonly (readonly CommandArg[])[], deadlineMs = 10_000): Promise<RespReply[]> {
    this.send(...commands)
    return this.read(commands.length, deadlineMs)
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

/** Opens a connection, runs one command, closes: for probing a server from the side. */
export async function callOnce(port: number, args: readonly CommandArg[], deadlineMs = 5000): Promise<RespReply> {
  const conn = await RespConnection.connect(port, { deadlineMs })
  try {
    return await conn.call(args, deadlineMs)
  } finally {
    conn.destroy()
  }
}

/**
 * GET of each key on one connection, pipelined in chunks of 1000 (for checking many keys on a server from the side: one round trip
 * per chunk rather than a connection per key). The replies in the keys' order.
 */
export async function getEach(port: number, keys: readonly string[], deadlineMs = 30_000): Promise<RespReply[]> {
  const conn = await RespConnection.connect(port, { deadlineMs: 5000 })
  try {
    const out: RespReply[] = []
    for (let i = 0; i < keys.length; i += 1000) out.push(...(await conn.pipeline(keys.slice(i, i + 1000).map((k) => ['GET', k]), deadlineMs)))
    return out
  } finally {
    conn.destroy()
  }
}
