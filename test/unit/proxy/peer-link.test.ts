// Peer links (newPeerLink + DnodeReplyScanner) against a mock node speaking dnode: framing, msg ids, and every way a peer can answer wrong.
// Contract shown here: replies must come in request order; a reply whose msg id is not the oldest request's closes the link,
// and every request in flight on it (that one included) is answered with a peer error, counted once.

import t from 'tap'
import type { Test } from 'tap'
import { MockBackend, resp, resFrame, echoHandler, type MockHandler } from '../../helpers/mock-backend.ts'
import { FakeSession, peerLink, send, ticker, S } from './backend-harness.ts'
import { refreshClock } from '../../../src/io/clock.ts'
import { DMSG_REQ } from '../../../src/protocol/dnode/index.ts'
import { encodeAuthFrame, PEER_AUTH_CHALLENGE } from '../../../src/protocol/dnode/index.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import type { BackendServer } from '../../../src/io/backend.ts'

const get = (k: string): Buffer => resp.command('GET', k)

async function node(t: Test, handler: MockHandler = echoHandler): Promise<MockBackend> {
  const m = await MockBackend.start('dnode', handler)
  t.teardown(() => m.close())
  return m
}

function link(t: Test, port: number, timeout = 0): BackendServer {
  const s = peerLink(port, { timeout })
  t.teardown(() => s.close())
  return s
}

function counts(session: FakeSession): Map<string, number> {
  const c = new Map<string, number>()
  for (const a of session.answers) c.set(a.label, (c.get(a.label) ?? 0) + 1)
  return c
}

/** Every label answered exactly once, and nothing else. */
function once(t: Test, session: FakeSession, labels: string[]): void {
  const c = counts(session)
  t.same(labels.filter((l) => c.get(l) !== 1), [], 'every request answered exactly once')
  t.equal(session.answers.length, labels.length, 'nothing else answered')
}

t.test('requests leave as REQ frames with per-link msg ids; RES frames in order answer them', async (t) => {
  const m = await node(t)
  const s = link(t, m.port)
  const session = new FakeSession()
  const labels = Array.from({ length: 100 }, (_, i) => `k${i}`)
  for (const l of labels) send(s, session, l, get(l))
  const answers = await session.waitFor(labels)
  t.same(answers.map((a) => a.text), labels.map((l) => resp.bulk(l).toString()), 'each answered with the payload of its RES')
  t.same(m.received.map((r) => r.msgId), labels.map((_, i) => i + 1), 'msg ids 1, 2, 3, ... on the link')
  t.ok(m.received.every((r) => r.type === DMSG_REQ), 'same-DC requests are DMSG_REQ')
  t.same(m.received.map((r) => r.raw.toString()), labels.map((l) => get(l).toString()), 'the payload is the RESP request, untouched')
  once(t, session, labels)
})

t.test('replies out of order: the link closes, every request in flight gets a peer error, counted once', async (t) => {
  const m = await node(t, (req) => ({ reply: resp.bulk(req.argv[1] ?? ''), hold: true }))
  const s = link(t, m.port)
  const session = new FakeSession()
  const labels = ['o1', 'o2', 'o3']
  for (const l of labels) send(s, session, l, get(l))
  await waitFor(() => m.heldCount === 3, 5000, 'the node has all three')
  m.release([1, 0, 2])
  await session.waitFor(labels)
  for (const l of labels) t.equal(session.answer(l)?.text, '-ERR Peer: Reply out of order on a peer link\r\n', `${l} failed`)
  t.equal(s.st[S.server_errors_total], 1, 'counted once')
  once(t, session, labels)
})

t.test('a reply with an unknown msg id closes that link; the request it claimed to answer is failed, not left hanging', async (t) => {
  let unknown = true
  const m = await node(t, (req) => (unknown && req.argv[1]?.toString() === 'u1' ? { reply: resp.bulk('u1'), msgId: 9999 } : echoHandler(req)))
  const s = link(t, m.port)
  const session = new FakeSession()
  for (const l of ['u1', 'u2']) send(s, session, l, get(l))
  await session.waitFor(['u1', 'u2'])
  for (const l of ['u1', 'u2']) t.match(session.answer(l)?.text, /^-ERR Peer: /, `${l}: a peer error`)
  t.equal(s.st[S.server_errors_total], 1, 'counted')
  t.equal(s.st[S.server_in_flight], 0, 'nothing left in flight')
  unknown = false
  await waitFor(() => refreshClock() >= s.retryAt, 5000, 'backoff over')
  send(s, session, 'u3', get('u3'))
  t.equal((await session.waitFor(['u3']))[0]!.text, resp.bulk('u3').toString(), 'a new link serves the next request')
  once(t, session, ['u1', 'u2', 'u3'])
})

t.test('a RES frame nobody asked for closes the link and is counted', async (t) => {
  const m = await node(t, (req) => ({ raw: Buffer.concat([resFrame(req.msgId, resp.bulk('x')), resFrame(req.msgId + 1, resp.bulk('stray'))]) }))
  const s = link(t, m.port)
  const session = new FakeSession()
  send(s, session, 'only', get('only'))
  await session.waitFor(['only'])
  t.equal(session.answer('only')?.text, resp.bulk('x').toString())
  await waitFor(() => s.st[S.server_errors_total] === 1, 5000, 'counted')
  t.equal(s.lastError, 'Unexpected reply from the datastore')
  once(t, session, ['only'])
})

t.test('a reply for a request whose client went away reaches nobody; the next client on the link gets its own', async (t) => {
  const m = await node(t, (req) => ({ reply: resp.bulk(req.argv[1] ?? ''), hold: req.argv[1]?.toString() === 'gone' }))
  const s = link(t, m.port)
  const gone = new FakeSession()
  const other = new FakeSession()
  send(s, gone, 'gone', get('gone'))
  await waitFor(() => m.heldCount === 1, 5000, 'held')
  gone.closed = true
  m.release()
  send(s, other, 'next', get('next'))
  t.equal((await other.waitFor(['next']))[0]!.text, resp.bulk('next').toString(), 'the next request gets its own reply')
  t.equal(gone.answers.length, 0, 'the closed client was handed nothing')
  t.equal(other.answers.length, 1, 'the other client got only its own')
  t.equal(s.st[S.server_errors_total], 0, 'the link stayed up')
})

t.test('a late reply to a timed-out request does not reach the request that reuses its msg id on the new link', async (t) => {
  const m = await node(t, (req) => (req.argv[1]?.toString() === 'slow' ? { reply: resp.bulk('slow'), delayMs: 1500 } : echoHandler(req)))
  const s = link(t, m.port, 100)
  ticker(t, [s])
  const session = new FakeSession()
  send(s, session, 'slow', get('slow'))
  t.equal((await session.waitFor(['slow']))[0]!.text, '-ERR Peer: Connection timed out\r\n')
  send(s, session, 'fast', get('fast'))
  t.equal((await session.waitFor(['fast']))[0]!.text, resp.bulk('fast').toString(), 'msg id 1 again, on the new link, answered with its own reply')
  t.same(m.received.map((r) => r.msgId), [1, 1], 'both requests went out as msg id 1')
  await waitFor(() => m.connections[0]!.socket.destroyed, 5000, 'old link closed')
  once(t, session, ['slow', 'fast'])
})

t.test('a memcached reply inside a RES frame on a RESP link: an error and that link closed, counted; never passed to the client', async (t) => {
  const m = await node(t, (req) => (req.argv[1]?.toString() === 'mc' ? { reply: 'VALUE mc 0 1\r\nx\r\nEND\r\n' } : echoHandler(req)))
  const s = link(t, m.port)
  const session = new FakeSession()
  for (const l of ['mc', 'after']) send(s, session, l, get(l))
  await session.waitFor(['mc', 'after'])
  for (const l of ['mc', 'after']) t.match(session.answer(l)?.text, /^-ERR Peer: /, `${l}: a peer error`)
  t.equal(s.st[S.server_errors_total], 1, 'counted')
  once(t, session, ['mc', 'after'])
})

t.test('RES payloads that are not exactly one RESP reply close the link', async (t) => {
  const bad: Record<string, string> = {
    two: '+OK\r\n+OK\r\n',
    short: '$5\r\nab\r\n',
    notresp: 'hello\r\n',
  }
  for (const [name, payload] of Object.entries(bad)) {
    const m = await node(t, () => ({ reply: payload }))
    const s = link(t, m.port)
    const session = new FakeSession()
    send(s, session, name, get(name))
    t.match((await session.waitFor([name]))[0]!.text, /^-ERR Peer: /, `${name}: a peer error, not the payload`)
    t.equal(s.st[S.server_errors_total], 1, `${name}: counted`)
  }
})

t.test('frames a peer must not send on a link: empty RES, a REQ, an auth frame outside a handshake, garbage', async (t) => {
  const frames: Record<string, (msgId: number) => Buffer> = {
    'empty RES': (id) => resFrame(id, Buffer.alloc(0)),
    'a REQ': (id) => Buffer.concat([Buffer.from(`   $2014$ ${id} 3 0 1 1 *1 d *5\r\n`), Buffer.from('+OK\r\n')]),
    'auth challenge': () => encodeAuthFrame(PEER_AUTH_CHALLENGE, 'dynoproxy-peer-auth 1 00'),
    garbage: () => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'),
  }
  for (const [name, frame] of Object.entries(frames)) {
    const m = await node(t, (req) => ({ raw: frame(req.msgId) }))
    const s = link(t, m.port)
    const session = new FakeSession()
    send(s, session, name, get('k'))
    t.equal((await session.waitFor([name]))[0]!.text, '-ERR Peer: Protocol error from the datastore\r\n', name)
    t.equal(s.st[S.server_errors_total], 1, `${name}: counted`)
  }
})

t.test('a RES frame split over many writes is gathered', async (t) => {
  const value = Buffer.alloc(200_000, 0x62)
  const m = await node(t, (req) => ({ reply: resp.bulk(req.argv[1]?.toString() === 'big' ? value : 'small') }))
  const s = link(t, m.port)
  const session = new FakeSession()
  for (const l of ['big', 'small']) send(s, session, l, get(l))
  await session.waitFor(['big', 'small'])
  t.equal(session.answer('big')?.text, resp.bulk(value).toString('latin1'))
  t.equal(session.answer('small')?.text, resp.bulk('small').toString())
})
