// Drives the real BackendServer / peer link classes from a test: requests carry a label, a fake ClientSession records each reply.
// It must never stand in for the request path itself: requests go through pick(), send() and deliverReply() exactly as a client's do.

import type { Test } from 'tap'
import { BackendServer, type BackendHooks, type BackendSettings } from '../../../src/io/backend.ts'
import { acquireRequest, newComposite, newPart, K_CLIENT, type ClientSession, type Merge, type Request } from '../../../src/io/request.ts'
import { RespReplyScanner } from '../../../src/protocol/resp/index.ts'
import { storageErrorReply } from '../../../src/proxy/resp/resp-replies.ts'
import { refreshClock } from '../../../src/io/clock.ts'
import { afterIo } from '../../../src/io/flush.ts'
import { SERVER_BLOCK_SLOTS, S } from '../../../src/stats/metrics.ts'
import { newPeerLink } from '../../../src/io/peer-link.ts'
import { waitFor } from '../../helpers/wait-for.ts'

export { S }

export type Answer = { label: string; text: string; isError: boolean; at: number }

/** A client stand-in: every reply it is handed, by the label of its request, in arrival order. */
export class FakeSession implements ClientSession {
  closed = false
  readonly answers: Answer[] = []
  readonly labels = new Map<Request, string>()
  readonly queued: Request[] = []

  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    const text = Buffer.from(buf.subarray(start, end)).toString('latin1')
    this.answers.push({ label: this.labels.get(req) ?? '?', text, isError: text.startsWith('-'), at: performance.now() })
  }

  requestFinished(req: Request): void {
    const text = Buffer.from(req.reply ?? []).toString('latin1')
    this.answers.push({ label: this.labels.get(req) ?? '?', text, isError: text.startsWith('-'), at: performance.now() })
  }

  /** newComposite's client: keeps the parent queued. */
  enqueue(req: Request): void {
    req.client = this
    req.refs++
    this.queued.push(req)
  }

  answer(label: string): Answer | undefined {
    return this.answers.find((a) => a.label === label)
  }

  /** Wait until every label has an answer. */
  async waitFor(labels: string[], ms = 10_000): Promise<Answer[]> {
    await waitFor(() => labels.every((l) => this.answer(l) !== undefined), ms, `answers for ${labels.join(',')}`, 5)
    return labels.map((l) => this.answer(l)!)
  }
}

export const SETTINGS: BackendSettings = {
  timeout: 0,
  serverConnections: 1,
  serverFailureLimit: 2,
  serverRetryTimeout: 30_000,
  autoEjectHosts: false,
}

export function stats(): Float64Array {
  return new Float64Array(SERVER_BLOCK_SLOTS)
}

/** A RESP datastore as the pool builds it (pool.ts): RESP reply scanner, Dynomite's storage errors. */
export function respServer(
  port: number, settings: Partial<BackendSettings> = {}, onChange: (s: BackendServer) => void = () => {}, handshake: Uint8Array | null = null,
): BackendServer {
  const hooks: BackendHooks = {
    newScanner: () => new RespReplyScanner(),
    handshake,
    errorReply: storageErrorReply,
    onServerStateChange: onChange,
  }
  return new BackendServer(0, '127.0.0.1', port, `mock:${port}`, 1, { ...SETTINGS, ...settings }, hooks, stats())
}

/** A link to another node (peer-link.ts), no secret. */
export function peerLink(port: number, settings: Partial<BackendSettings> = {}): BackendServer {
  const node = { index: 1, id: `dc1/r1/127.0.0.1:${port}/1`, name: `peer:${port}`, compat: 'dynoproxy' as const, host: '127.0.0.1', peerPort: port, clientPort: 0, rack: 0, dc: 0, state: 4, tokens: ['1'], local: false }
  return newPeerLink(node, true, { ...SETTINGS, ...settings }, 1 << 20, stats(), () => null)
}

/**
 * Send `bytes` as a client request labelled `label`. When the server refuses a connection (backoff or ejection)
 * the request is answered at once with the server's last error, as the router does. Returns whether it was sent.
 */
export function send(server: BackendServer, session: FakeSession, label: string, bytes: Uint8Array): boolean {
  const now = refreshClock()
  const req = acquireRequest(K_CLIENT)
  req.client = session
  // The client queue's reference: the request outlives its delivery, so labels stay right.
  req.refs = 1
  session.labels.set(req, label)
  const conn = server.pick(now)
  if (conn === null) {
    const r = storageErrorReply(server.lastError)
    session.replyArrived(req, r, 0, r.length)
    return false
  }
  conn.send(req, bytes, 0, bytes.length)
  return true
}

/** A split request over `servers`: piece i goes to servers[i] with bytes[i]; the merged reply is answered as `label`. */
export function sendSplit(servers: BackendServer[], session: FakeSession, label: string, merge: Merge, bytes: Uint8Array[]): void {
  const now = refreshClock()
  const parent = newComposite(session, merge, bytes.length, -1, now)
  session.labels.set(parent, label)
  bytes.forEach((b, i) => {
    const part = newPart(parent, i)
    const conn = servers[i]!.pick(now)
    if (conn === null) throw new Error('sendSplit: server refused a connection')
    conn.send(part, b, 0, b.length)
  })
}

/** The pool's coarse timer (pool.ts tick): timeouts and un-ejection, every `ms`. Stopped in teardown. */
export function ticker(t: Test, servers: BackendServer[], ms = 10): { unejected: number } {
  const seen = { unejected: 0 }
  const timer = setInterval(() => {
    const now = refreshClock()
    for (const s of servers) {
      s.checkTimeouts(now)
      if (s.maybeUneject(now)) seen.unejected++
    }
    afterIo()
  }, ms)
  t.teardown(() => clearInterval(timer))
  return seen
}
