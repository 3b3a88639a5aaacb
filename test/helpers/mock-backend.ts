// A small scriptable TCP server on 127.0.0.1 standing in for a datastore (RESP) or another node's peer port (dnode):
// each request is answered as a handler decides, with faults on demand. It must never be used where a real redis-server would do.

import net from 'node:net'
import { DnodeParser, DEFAULT_DNODE_LIMITS, DMSG_RES, DNODE_VERSION, writeDnodeHeader, dnodeHeaderLength } from '../../src/protocol/dnode/index.ts'

/** One request the mock received. */
export type MockRequest = {
  /** The command's arguments (RESP arrays of bulk strings; in dnode mode, the frame's payload). */
  argv: Buffer[]
  /** The request's bytes as received (dnode mode: the payload only). */
  raw: Buffer
  /** dnode mode: the frame's msg id and type; 0 in RESP mode. */
  msgId: number
  type: number
  /** Which accepted connection it came on (0, 1, ...), and its number among all requests. */
  conn: number
  index: number
}

/** What to answer to one request; `null` from the handler answers nothing (the request hangs). */
export type MockReply = {
  /** Reply bytes. In dnode mode they are the payload of a RES frame answering the request's msg id. */
  reply?: string | Uint8Array
  /** dnode mode: answer with this msg id instead of the request's. */
  msgId?: number
  /** Bytes written exactly as given, no framing (garbage, hand-made frames). */
  raw?: string | Uint8Array
  /** Write only the first `cut` bytes of what would be sent; the connection then answers nothing more. */
  cut?: number
  /** Close the connection after writing. */
  close?: boolean
  /** Write after this many ms (later replies of the connection wait behind it, keeping their order). */
  delayMs?: number
  /** Keep it back until `release()`: the way to answer out of order. */
  hold?: boolean
}

export type MockHandler = (req: MockRequest) => MockReply | null

export type MockMode = 'resp' | 'dnode'

type Held = { conn: MockConnection; req: MockRequest; reply: MockReply }

class MockConnection {
  readonly socket: net.Socket
  readonly id: number
  private pending: Buffer = Buffer.alloc(0)
  private readonly dnode = new DnodeParser({ ...DEFAULT_DNODE_LIMITS })
  /** Replies leave in order: each waits for the one before it (delays included). */
  private chain: Promise<void> = Promise.resolve()
  /** A reply was cut short or garbage sent: nothing more is written on this connection. */
  stalled = false
  private readonly owner: MockBackend

  constructor(socket: net.Socket, id: number, owner: MockBackend) {
    this.owner = owner
    this.socket = socket
    this.id = id
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('error', () => {})
  }

  private onData(chunk: Buffer): void {
    this.owner.bytesReceived += chunk.length
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    for (;;) {
      const r = this.owner.mode === 'resp' ? this.nextResp() : this.nextDnode()
      if (r === null) return
      if (r === 'bad') {
        this.owner.protocolErrors++
        this.socket.destroy()
        return
      }
      this.owner.receive(this, r)
    }
  }

  private nextResp(): MockRequest | 'bad' | null {
    const b = this.pending
    if (b.length === 0) return null
    const parsed = parseRespArray(b, 0)
    if (parsed === null) return null
    if (parsed === 'bad') return 'bad'
    const raw = b.subarray(0, parsed.end)
    this.pending = b.subarray(parsed.end)
    return { argv: parsed.argv, raw: Buffer.from(raw), msgId: 0, type: 0, conn: this.id, index: 0 }
  }

  private nextDnode(): MockRequest | 'bad' | null {
    const b = this.pending
    if (b.length === 0) return null
    const p = this.dnode
    const r = p.parse(b, 0, b.length)
    if (r < 0) return 'bad'
    if (r === 0) {
      // The parser resumes from where it stopped; hand it the whole frame again once more bytes came.
      p.reset()
      return null
    }
    const payload = Buffer.from(b.subarray(p.payloadStart, p.payloadStart + p.payloadLen))
    this.pending = b.subarray(r)
    const parsed = parseRespArray(payload, 0)
    const argv = parsed !== null && parsed !== 'bad' ? parsed.argv : []
    return { argv, raw: payload, msgId: p.msgId, type: p.type, conn: this.id, index: 0 }
  }

  /** Queue the bytes for `reply` behind the replies before it. */
  answer(req: MockRequest, reply: MockReply): void {
    this.chain = this.chain.then(async () => {
      if (reply.delayMs !== undefined && reply.delayMs > 0) await this.owner.sleep(reply.delayMs)
      this.write(req, reply)
    })
  }

  write(req: MockRequest, reply: MockReply): void {
    if (this.stalled || this.socket.destroyed) return
    let bytes: Buffer
    if (reply.raw !== undefined) bytes = Buffer.from(reply.raw)
    else if (reply.reply !== undefined) {
      const payload = Buffer.from(reply.reply)
      bytes = this.owner.mode === 'dnode' ? resFrame(reply.msgId ?? req.msgId, payload) : payload
    } else bytes = Buffer.alloc(0)
    if (reply.cut !== undefined) {
      bytes = bytes.subarray(0, reply.cut)
      this.stalled = true
    }
    if (bytes.length > 0) this.socket.write(bytes)
    if (reply.close === true) this.socket.end()
  }
}

/** A RESP array of bulk strings at `pos`: its arguments and where it ends; null when incomplete. */
function parseRespArray(b: Buffer, pos: number): { argv: Buffer[]; end: number } | 'bad' | null {
  const line = (at: number): { text: string; next: number } | null => {
    const cr = b.indexOf('\r\n', at)
    return cr < 0 ? null : { text: b.toString('latin1', at, cr), next: cr + 2 }
  }
  if (b[pos] !== 0x2a) return 'bad'
  const head = line(pos + 1)
  if (head === null) return null
  const n = Number(head.text)
  if (!Number.isInteger(n) || n < 0) return 'bad'
  const argv: Buffer[] = []
  let at = head.next
  for (let i = 0; i < n; i++) {
    if (at >= b.length) return null
    if (b[at] !== 0x24) return 'bad'
    const len = line(at + 1)
    if (len === null) return null
    const size = Number(len.text)
    if (!Number.isInteger(size) || size < 0) return 'bad'
    if (len.next + size + 2 > b.length) return null
    argv.push(Buffer.from(b.subarray(len.next, len.next + size)))
    at = len.next + size + 2
  }
  return { argv, end: at }
}

/** A dnode RES frame as Dynomite writes it, answering `msgId`. */
export function resFrame(msgId: number, payload: Uint8Array): Buffer {
  const data = Uint8Array.of(0x64)
  const len = dnodeHeaderLength(msgId, DMSG_RES, 0, DNODE_VERSION, 1, data.length, payload.length)
  const out = Buffer.allocUnsafe(len + payload.length)
  const off = writeDnodeHeader(out, 0, msgId, DMSG_RES, 0, DNODE_VERSION, 1, data, payload.length)
  out.set(payload, off)
  return out
}

/** RESP encoders for handlers. */
export const resp = {
  ok: '+OK\r\n',
  nil: '$-1\r\n',
  bulk: (s: string | Buffer): Buffer => {
    const b = Buffer.from(s)
    return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')])
  },
  int: (n: number): string => `:${n}\r\n`,
  err: (s: string): string => `-${s}\r\n`,
  array: (items: (string | Buffer)[]): Buffer => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((i) => Buffer.from(i))]),
  command: (...args: (string | Buffer)[]): Buffer =>
    Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map((a) => resp.bulk(a))]),
}

/** The default handler: GET k answers k's name as a bulk string, anything else +OK. */
export const echoHandler: MockHandler = (req) => {
  const cmd = req.argv[0]?.toString('latin1').toUpperCase()
  if (cmd === 'GET' && req.argv[1] !== undefined) return { reply: resp.bulk(req.argv[1]) }
  return { reply: resp.ok }
}

export class MockBackend {
  readonly mode: MockMode
  handler: MockHandler
  readonly server: net.Server
  port = 0
  /** Every request received, in arrival order over all connections. */
  readonly received: MockRequest[] = []
  readonly connections: MockConnection[] = []
  bytesReceived = 0
  /** Requests the mock could not parse (it closes that connection). */
  protocolErrors = 0
  private readonly held: Held[] = []
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  private constructor(mode: MockMode, handler: MockHandler) {
    this.mode = mode
    this.handler = handler
    this.server = net.createServer({ noDelay: true }, (sock) => {
      if (this.closed) return void sock.destroy()
      this.connections.push(new MockConnection(sock, this.connections.length, this))
    })
  }

  /** Listen on 127.0.0.1, port `port` (0: any free one; a fixed one to come back where a client reconnects). */
  static async start(mode: MockMode, handler: MockHandler = echoHandler, port = 0): Promise<MockBackend> {
    const m = new MockBackend(mode, handler)
    await new Promise<void>((resolve, reject) => {
      m.server.once('error', reject)
      m.server.listen({ host: '127.0.0.1', port }, () => resolve())
    })
    m.port = (m.server.address() as net.AddressInfo).port
    return m
  }

  receive(conn: MockConnection, req: MockRequest): void {
    req.index = this.received.length
    this.received.push(req)
    const reply = this.handler(req)
    if (reply === null) return
    if (reply.hold === true) this.held.push({ conn, req, reply })
    else conn.answer(req, reply)
  }

  /** Requests held back so far. */
  get heldCount(): number {
    return this.held.length
  }

  /** Answer the held requests now, in the order `order` gives (indexes into the held list; default: newest first). */
  release(order?: number[]): void {
    const list = this.held.splice(0, this.held.length)
    const idx = order ?? list.map((_, i) => list.length - 1 - i)
    for (const i of idx) {
      const h = list[i]
      if (h !== undefined) h.conn.write(h.req, h.reply)
    }
  }

  /** Open accepted connections (not yet closed by either side). */
  get openConnections(): number {
    return this.connections.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open').length
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t)
        resolve()
      }, ms)
      this.timers.add(t)
    })
  }

  /** Close every accepted connection but keep listening. */
  dropConnections(): void {
    for (const c of this.connections) c.socket.destroy()
  }

  /** Stop listening and close every connection; pending delays are cancelled. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.dropConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
