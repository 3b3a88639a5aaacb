// BackendServer / BackendConnection against a scriptable mock datastore: pipelining, timeouts, garbage, half replies, ejection, backoff.
// Every request gets exactly one answer, its own: the fake session records each by label, and no test waits on a fixed sleep.

import t from 'tap'
import type { Test } from 'tap'
import { MockBackend, resp, echoHandler } from '../../helpers/mock-backend.ts'
import { FakeSession, respServer, send, ticker, S } from './backend-harness.ts'
import { refreshClock } from '../../../src/io/clock.ts'
import { waitFor } from '../../helpers/wait-for.ts'
import type { BackendServer } from '../../../src/io/backend.ts'

const get = (k: string): Buffer => resp.command('GET', k)

async function mock(t: Test, handler = echoHandler, port = 0): Promise<MockBackend> {
  const m = await MockBackend.start('resp', handler, port)
  t.teardown(() => m.close())
  return m
}

function closeAtEnd(t: Test, s: BackendServer): BackendServer {
  t.teardown(() => s.close())
  return s
}

/** Every label answered exactly once. */
function once(t: Test, session: FakeSession, labels: string[]): void {
  const counts = new Map<string, number>()
  for (const a of session.answers) counts.set(a.label, (counts.get(a.label) ?? 0) + 1)
  t.same(labels.filter((l) => counts.get(l) !== 1), [], 'every request answered exactly once')
  t.equal(session.answers.length, labels.length, 'and nothing else was answered')
}

t.test('pipelined replies come back in request order, each to its request', async (t) => {
  const m = await mock(t)
  const s = closeAtEnd(t, respServer(m.port))
  const session = new FakeSession()
  const labels = Array.from({ length: 300 }, (_, i) => `k${i}`)
  for (const l of labels) send(s, session, l, get(l))
  const answers = await session.waitFor(labels)
  t.same(answers.map((a) => a.text), labels.map((l) => resp.bulk(l).toString()), 'each GET answered with its own key')
  t.same(session.answers.map((a) => a.label), labels, 'in the order sent')
  t.equal(m.connections.length, 1, 'over one connection')
  t.equal(s.st[S.server_requests_total], 300)
  t.equal(s.st[S.server_in_flight], 0, 'nothing left in flight')
  once(t, session, labels)
})

t.test('a reply larger than a socket read is gathered, and the replies after it still match', async (t) => {
  const big = Buffer.alloc(300_000, 0x61)
  big.write('\r\n$3\r\nfoo\r\n', 1000)
  const m = await mock(t, (req) => (req.argv[1]?.toString() === 'big' ? { reply: resp.bulk(big) } : echoHandler(req)))
  const s = closeAtEnd(t, respServer(m.port))
  const session = new FakeSession()
  const labels = ['a', 'big', 'b', 'big', 'c']
  labels.forEach((l, i) => send(s, session, `${l}${i}`, get(l)))
  const answers = await session.waitFor(labels.map((l, i) => `${l}${i}`))
  t.same(
    answers.map((a) => a.text.length),
    labels.map((l) => (l === 'big' ? resp.bulk(big).length : resp.bulk(l).length)),
  )
  t.equal(answers[1]!.text, resp.bulk(big).toString('latin1'), 'the big value intact')
  t.equal(answers[4]!.text, resp.bulk('c').toString(), 'the small one after it is its own')
})

t.test('round robin over server_connections', async (t) => {
  const m = await mock(t)
  const s = closeAtEnd(t, respServer(m.port, { serverConnections: 3 }))
  const session = new FakeSession()
  const labels = Array.from({ length: 30 }, (_, i) => `r${i}`)
  for (const l of labels) send(s, session, l, get(l))
  await session.waitFor(labels)
  t.equal(m.connections.length, 3, 'three connections opened')
  const perConn = [0, 1, 2].map((c) => m.received.filter((r) => r.conn === c).length)
  t.same(perConn, [10, 10, 10], 'requests spread evenly')
  for (const l of labels) t.equal(session.answer(l)?.text, resp.bulk(l).toString())
})

t.test('a timeout fails every request in flight at once, in time, and a new connection serves the next', async (t) => {
  let hang = true
  const m = await mock(t, (req) => (hang ? null : echoHandler(req)))
  const s = closeAtEnd(t, respServer(m.port, { timeout: 150 }))
  ticker(t, [s])
  const session = new FakeSession()
  const start = performance.now()
  for (const l of ['h1', 'h2', 'h3']) send(s, session, l, get(l))
  const answers = await session.waitFor(['h1', 'h2', 'h3'])
  for (const a of answers) {
    t.equal(a.text, '-ERR Storage: Connection timed out\r\n', `${a.label}: Dynomite's timeout error`)
    t.ok(a.at - start >= 140 && a.at - start < 3000, `${a.label} answered after ${Math.round(a.at - start)} ms (timeout 150)`)
  }
  t.equal(s.st[S.server_timeouts_total], 1, 'one timeout counted')
  t.equal(s.st[S.server_errors_total], 1, 'one connection failure counted')
  t.equal(s.ejected, false, 'no ejection without auto_eject_hosts')
  hang = false
  t.ok(send(s, session, 'after', get('after')), 'the next request is sent at once (no backoff after a timeout)')
  const [after] = await session.waitFor(['after'])
  t.equal(after!.text, resp.bulk('after').toString())
  t.equal(m.connections.length, 2, 'on a new connection')
  await waitFor(() => m.connections[0]!.socket.destroyed, 5000, 'the timed-out connection closed')
  once(t, session, ['h1', 'h2', 'h3', 'after'])
})

t.test('a late reply to a timed-out request never reaches the request sent after it', async (t) => {
  // The first request is answered after the timeout; the second goes on a new connection and is answered at once.
  const m = await mock(t, (req) => (req.argv[1]?.toString() === 'slow' ? { reply: resp.bulk('slow'), delayMs: 1500 } : echoHandler(req)))
  const s = closeAtEnd(t, respServer(m.port, { timeout: 100 }))
  ticker(t, [s])
  const session = new FakeSession()
  send(s, session, 'slow', get('slow'))
  const [slow] = await session.waitFor(['slow'])
  t.match(slow!.text, /^-ERR Storage: Connection timed out/)
  send(s, session, 'fast', get('fast'))
  const [fast] = await session.waitFor(['fast'])
  t.equal(fast!.text, resp.bulk('fast').toString(), 'the second request gets its own reply')
  // Let the delayed reply be written to the old connection (or fail to be): it must reach nobody.
  await waitFor(() => m.connections[0]!.socket.destroyed, 5000, 'old connection gone')
  send(s, session, 'third', get('third'))
  await session.waitFor(['third'])
  once(t, session, ['slow', 'fast', 'third'])
})

t.test('garbage from the datastore fails the requests in flight, never hands them the wrong bytes', async (t) => {
  const m = await mock(t, (req) => {
    const k = req.argv[1]?.toString()
    if (k === 'bad') return { raw: '!garbage\r\n:12\r\n' }
    return { reply: resp.bulk(k ?? '') }
  })
  const s = closeAtEnd(t, respServer(m.port))
  const session = new FakeSession()
  const labels = ['g1', 'bad', 'g3', 'g4']
  for (const l of labels) send(s, session, l, get(l))
  await session.waitFor(labels)
  t.equal(session.answer('g1')?.text, resp.bulk('g1').toString(), 'the request before the garbage got its reply')
  for (const l of ['bad', 'g3', 'g4']) t.equal(session.answer(l)?.text, '-ERR Storage: Protocol error from the datastore\r\n', `${l} failed`)
  t.equal(s.st[S.server_errors_total], 1, 'counted once')
  once(t, session, labels)
  t.ok(s.retryAt > 0, 'a broken datastore is given a short backoff')
  await waitFor(() => refreshClock() >= s.retryAt, 5000, 'backoff over')
  send(s, session, 'next', get('next'))
  t.equal((await session.waitFor(['next']))[0]!.text, resp.bulk('next').toString(), 'a new connection serves the next request')
})

t.test('half a reply then close: the requests in flight fail, no partial bytes are delivered', async (t) => {
  const m = await mock(t, (req) => {
    const k = req.argv[1]?.toString() ?? ''
    if (k === 'half') return { reply: resp.bulk('x'.repeat(100)), cut: 40, close: true }
    return { reply: resp.bulk(k) }
  })
  const s = closeAtEnd(t, respServer(m.port))
  const session = new FakeSession()
  const labels = ['p1', 'half', 'p3']
  for (const l of labels) send(s, session, l, get(l))
  await session.waitFor(labels)
  t.equal(session.answer('p1')?.text, resp.bulk('p1').toString())
  for (const l of ['half', 'p3']) t.match(session.answer(l)?.text, /^-ERR Storage: Connection closed/, `${l}: the datastore closed`)
  once(t, session, labels)
})

t.test('a datastore that hangs after a few bytes of a reply: the timeout answers, the partial reply never leaks', async (t) => {
  const m = await mock(t, (req) => {
    const k = req.argv[1]?.toString() ?? ''
    if (k === 'stuck') return { reply: resp.bulk('y'.repeat(50)), cut: 7 }
    return { reply: resp.bulk(k) }
  })
  const s = closeAtEnd(t, respServer(m.port, { timeout: 120 }))
  ticker(t, [s])
  const session = new FakeSession()
  const labels = ['s1', 'stuck', 's3']
  for (const l of labels) send(s, session, l, get(l))
  await session.waitFor(labels)
  t.equal(session.answer('s1')?.text, resp.bulk('s1').toString())
  t.equal(session.answer('stuck')?.text, '-ERR Storage: Connection timed out\r\n')
  t.equal(session.answer('s3')?.text, '-ERR Storage: Connection timed out\r\n', 'the request behind it too')
  once(t, session, labels)
})

t.test('a reply nobody asked for closes the connection and is counted', async (t) => {
  const m = await mock(t, (req) => ({ raw: Buffer.concat([resp.bulk(req.argv[1] ?? ''), Buffer.from('+EXTRA\r\n')]) }))
  const s = closeAtEnd(t, respServer(m.port))
  const session = new FakeSession()
  send(s, session, 'one', get('one'))
  await session.waitFor(['one'])
  t.equal(session.answer('one')?.text, resp.bulk('one').toString())
  await waitFor(() => s.st[S.server_errors_total] === 1, 5000, 'the unexpected reply counted')
  t.equal(s.lastError, 'Unexpected reply from the datastore')
  once(t, session, ['one'])
})

t.test('AUTH on connect: accepted, requests flow; refused, requests fail with the reason', async (t) => {
  const handshake = resp.command('AUTH', 'pw')
  let accept = true
  const m = await mock(t, (req) => {
    if (req.argv[0]?.toString() === 'AUTH') return { reply: accept ? resp.ok : resp.err('WRONGPASS invalid password') }
    return echoHandler(req)
  })
  const s = closeAtEnd(t, respServer(m.port, {}, () => {}, handshake))
  const session = new FakeSession()
  send(s, session, 'a1', get('a1'))
  t.equal((await session.waitFor(['a1']))[0]!.text, resp.bulk('a1').toString())
  t.equal(m.received[0]!.argv[0]?.toString(), 'AUTH', 'AUTH went first')
  accept = false
  m.dropConnections()
  await waitFor(() => s.st[S.server_connections] === 0, 5000, 'connection noticed closed')
  await waitFor(() => refreshClock() >= s.retryAt, 5000, 'backoff over')
  send(s, session, 'a2', get('a2'))
  t.equal((await session.waitFor(['a2']))[0]!.text, `-ERR Storage: the datastore mock:${m.port} refused the proxy's AUTH (WRONGPASS invalid password): its password is not the pool's requirepass\r\n`)
})

t.test('auto_eject_hosts: ejected after server_failure_limit failures, taken back after server_retry_timeout, serves again', async (t) => {
  // A port nobody listens on: take one, then close it.
  const gone = await MockBackend.start('resp')
  const port = gone.port
  await gone.close()
  const changes: boolean[] = []
  const s = closeAtEnd(t, respServer(port, { autoEjectHosts: true, serverFailureLimit: 2, serverRetryTimeout: 400 }, (x) => changes.push(x.ejected)))
  const seen = ticker(t, [s])
  const session = new FakeSession()
  send(s, session, 'f1', get('f1'))
  t.equal((await session.waitFor(['f1']))[0]!.text, '-ERR Storage: Connection refused\r\n')
  t.equal(s.ejected, false, 'one failure: not ejected yet')
  await waitFor(() => refreshClock() >= s.retryAt, 5000, 'short backoff over')
  const f2SentAt = refreshClock()
  send(s, session, 'f2', get('f2'))
  const [f2] = await session.waitFor(['f2'])
  t.equal(s.ejected, true, 'second failure: ejected')
  // The failure was stamped with the clock somewhere between sending and the answer: bounds without timing slack.
  const until = s.retryAt
  t.ok(until - f2SentAt >= 400 && until - f2!.at <= 400, `ejected for server_retry_timeout (${Math.round(until - f2SentAt)} ms)`)
  t.same(changes, [true], 'the router was told')
  t.equal(s.st[S.server_ejected], 1)
  t.equal(s.st[S.server_ejections_total], 1)
  t.notOk(send(s, session, 'while', get('while')), 'while ejected nothing is attempted')
  t.equal(session.answer('while')?.text, '-ERR Storage: Connection refused\r\n', 'the request fails at once with the last error')
  const back = await MockBackend.start('resp', echoHandler, port)
  t.teardown(() => back.close())
  await waitFor(() => seen.unejected === 1, 5000, 'un-ejected by the timer')
  t.ok(refreshClock() >= until, 'un-ejected only once the retry timeout was over')
  t.equal(s.st[S.server_ejected], 0)
  send(s, session, 'ok', get('ok'))
  t.equal((await session.waitFor(['ok']))[0]!.text, resp.bulk('ok').toString(), 'serves again once the datastore is back')
  t.equal(s.failures, 0, 'a reply resets the failure count')
})

t.test('without ejection a dead datastore is retried with exponential backoff, capped by server_retry_timeout', async (t) => {
  const gone = await MockBackend.start('resp')
  const port = gone.port
  await gone.close()
  const s = closeAtEnd(t, respServer(port, { serverRetryTimeout: 300 }))
  const session = new FakeSession()
  const gaps: [number, number][] = []
  for (let i = 0; i < 5; i++) {
    await waitFor(() => refreshClock() >= s.retryAt, 5000, 'backoff over')
    const sentAt = refreshClock()
    t.ok(send(s, session, `b${i}`, get('x')), `attempt ${i + 1} is made once the backoff is over`)
    const [a] = await session.waitFor([`b${i}`])
    // The failure was stamped between sending and the answer: the backoff lies between these two.
    gaps.push([s.retryAt - a!.at, s.retryAt - sentAt])
    // A loaded machine can take longer than the first backoffs (50, 100 ms) to come back here: check only inside the window.
    if (refreshClock() < s.retryAt) t.notOk(send(s, session, `refused${i}`, get('x')), 'during the backoff nothing is attempted')
    else t.comment(`attempt ${i + 1}: the backoff was over before the check could run (loaded machine)`)
  }
  const expected = [50, 100, 200, 300, 300]
  gaps.forEach(([lo, hi], i) => t.ok(lo <= expected[i]! && expected[i]! <= hi, `backoff ${i + 1}: ${expected[i]} ms within [${Math.round(lo)}, ${Math.round(hi)}]`))
  t.equal(s.ejected, false)
  const back = await MockBackend.start('resp', echoHandler, port)
  t.teardown(() => back.close())
  await waitFor(() => refreshClock() >= s.retryAt, 5000, 'backoff over')
  send(s, session, 'up', get('up'))
  t.equal((await session.waitFor(['up']))[0]!.text, resp.bulk('up').toString(), 'reconnects once the datastore is back')
})
