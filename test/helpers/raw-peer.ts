// A hand-written peer-port connection for tests: dnode frames written as a stranger (or a peer knowing peer_secret) would.
// It must never share code with the proxy's peer framing or auth: frames and HMACs are built here from the wire format.

import net from 'node:net'
import { createHmac } from 'node:crypto'
import { GiveUp, waitFor } from './wait-for.ts'

export const DMSG_REQ = 3
export const DMSG_REQ_FORWARD = 4
const PROOF = 201

/** One dnode frame: header, then the payload as is. */
export function peerFrame(msgId: number, type: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload
  return Buffer.concat([Buffer.from(`   $2014$ ${msgId} ${type} 0 1 1 *1 d *${body.length}\r\n`), body])
}

/** A RESP multibulk request. */
export function resp(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')
}

/** A raw peer-port connection that collects everything the node sends. */
export class RawPeer {
  readonly socket: net.Socket
  received = Buffer.alloc(0)
  closed = false
  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' })
    this.socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])))
    this.socket.on('close', () => (this.closed = true))
    this.socket.on('error', () => {})
  }
  get text(): string {
    return this.received.toString('latin1')
  }
  /** Waits until what the node sent satisfies `pred`; fails at once if the connection closed without it (nothing more can come). */
  async until(pred: (text: string) => boolean, what: string, ms = 8000): Promise<void> {
    await waitFor(() => {
      if (pred(this.text)) return true
      // 'close' comes after the last 'data': the text is final.
      if (this.closed) throw new GiveUp(`${what}: the node closed the connection first`)
      return false
    }, ms, what)
  }
  /** Answer the node's challenge with an HMAC of `secret`; resolves once the node proved it too. */
  async authenticate(secret: string): Promise<void> {
    await this.until((s) => /dynoproxy-peer-auth 1 [0-9a-f]{32}/.test(s), 'the challenge')
    const snonce = /dynoproxy-peer-auth 1 ([0-9a-f]{32})/.exec(this.text)![1]!
    const cnonce = 'cd'.repeat(16)
    const proof = createHmac('sha256', secret).update(`dynoproxy-peer client ${snonce} ${cnonce}`).digest('hex')
    this.socket.write(peerFrame(0, PROOF, `${cnonce} ${proof}`))
    const serverProof = createHmac('sha256', secret).update(`dynoproxy-peer server ${snonce} ${cnonce}`).digest('hex')
    await this.until((s) => s.includes(serverProof), 'the server proof')
  }
  /** Send one request frame and wait for its RES frame; the payload of that frame. */
  async request(msgId: number, payload: string | Buffer, type = DMSG_REQ): Promise<string> {
    const start = this.received.length
    this.socket.write(peerFrame(msgId, type, payload))
    const re = new RegExp(`   \\$2014\\$ ${msgId} 5 \\d+ \\d+ \\d+ \\*\\d+ \\S+ \\*(\\d+)\\r\\n`)
    const whole = (): string | null => {
      const s = this.received.subarray(start).toString('latin1')
      const m = re.exec(s)
      if (m === null) return null
      const from = m.index + m[0].length
      const len = Number(m[1])
      return s.length >= from + len ? s.slice(from, from + len) : null
    }
    await waitFor(() => whole() !== null, 8000, `reply to ${msgId}`)
    return whole()!
  }
  close(): void {
    this.socket.destroy()
  }
}
