// Pinned backend connections (BackendServer.pin / unpin, the Request pin field) against a scriptable mock datastore: a pinned request never
// goes on a shared connection nor a shared one on the pin, a corked pin writes nothing, a broken pin fails its requests, and the bounds hold.

import t from 'tap'
import { MockBackend, resp, echoHandler } from '../../helpers/mock-backend.ts'
import { FakeSession, respServer, ticker, S } from './backend-harness.ts'
import { acquireRequest, K_CLIENT, MAX_PINNED, type BackendServer, type BackendConnection } from '../../../src/io/index.ts'
import { refreshClock } from '../../../src/io/clock.ts'
import { waitFor } from '../../helpers/wait-for.ts'

const m = await MockBackend.start('resp', echoHandler)
t.teardown(() => m.close())

function server(): BackendServer {
  const s = respServer(m.port, { serverConnections: 1 })
  t.teardown(() => s.close())
  ticker(t, [s])
  return s
}

/** Send `GET label` through server.send, pinned to `pin` (or not). */
function send(s: BackendServer, session: FakeSession, label: string, pin: BackendConnection | null): void {
  refreshClock()
  const req = acquireRequest(K_CLIENT)
  req.client = session
  req.refs = 1
  req.pin = pin
  session.labels.set(req, label)
  const bytes = resp.command('GET', label)
  s.send(req, bytes, 0, bytes.length)
}

function connOf(label: string): number {
  const r = m.received.find((x) => x.argv[1]?.toString() === label)
  if (r === undefined) throw new Error(`${label} not received`)
  return r.conn
}

t.test('pinned requests go on the pin, others on the shared connection; a clean pin is reused', async (t) => {
  const s = server()
  const session = new FakeSession()
  send(s, session, 'shared1', null)
  const pin = s.pin()!
  t.ok(pin !== null)
  t.equal(s.st[S.server_pinned_connections], 1, 'gauge')
  send(s, session, 'pinned1', pin)
  send(s, session, 'shared2', null)
  send(s, session, 'pinned2', pin)
  await session.waitFor(['shared1', 'pinned1', 'shared2', 'pinned2'])
  t.equal(connOf('shared1'), connOf('shared2'))
  t.equal(connOf('pinned1'), connOf('pinned2'))
  t.not(connOf('pinned1'), connOf('shared1'), 'the pin is a connection of its own')
  s.unpin(pin, true)
  t.equal(s.st[S.server_pinned_connections], 0)
  t.equal(s.pin(), pin, 'a clean pin given back is the next one handed out')
  s.unpin(pin, false)
  t.ok(pin.closed, 'a pin given back unclean is closed')
})

t.test('a corked pin writes nothing until uncorked; its requests keep their order', async (t) => {
  const s = server()
  const session = new FakeSession()
  const pin = s.pin()!
  pin.cork()
  send(s, session, 'c1', pin)
  send(s, session, 'c2', pin)
  send(s, session, 'free', null)
  await session.waitFor(['free'])
  await new Promise((r) => setTimeout(r, 100))
  t.equal(session.answers.filter((a) => a.label.startsWith('c')).length, 0, 'nothing answered while corked')
  t.notOk(pin.idle, 'not idle with requests queued')
  pin.uncork()
  await session.waitFor(['c1', 'c2'])
  t.same(session.answers.filter((a) => a.label.startsWith('c')).map((a) => a.label), ['c1', 'c2'])
  await waitFor(() => pin.idle, 2000, 'idle once answered')
  s.unpin(pin, true)
})

t.test('a pin that broke fails its requests with the datastore error; they never fall back to a shared connection', async (t) => {
  const s = server()
  const session = new FakeSession()
  const pin = s.pin()!
  send(s, session, 'before', pin)
  await session.waitFor(['before'])
  pin.fail('Connection reset by peer', 1)
  const received = m.received.length
  send(s, session, 'after', pin)
  const [a] = await session.waitFor(['after'])
  t.match(a!.text, /^-ERR Storage: /, 'the watch is lost: an error, not an answer from another connection')
  t.equal(m.received.length, received, 'nothing was sent')
  s.unpin(pin, true)
  t.equal(s.st[S.server_pinned_connections], 0)
})

t.test('at most MAX_PINNED pins per server; one given back makes room', async (t) => {
  const s = server()
  const pins: BackendConnection[] = []
  for (let i = 0; i < MAX_PINNED; i++) pins.push(s.pin()!)
  t.equal(pins.filter((p) => p === null).length, 0)
  t.equal(s.pin(), null, 'refused past the bound')
  t.equal(s.pinnedCount, MAX_PINNED)
  s.unpin(pins.pop()!, false)
  t.ok(s.pin() !== null, 'room again')
  s.close()
  t.ok(pins.every((p) => p.closed), 'close() closes the pins')
})
