// The mock datastore / mock peer itself, checked with raw sockets: what it records, how it frames, and each fault it scripts.
// Light on purpose: the proxy tests that use it are the real check; this only shows the mock does what it says.

import net from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { MockBackend, resp, resFrame, type MockHandler, type MockMode } from '../../helpers/mock-backend.ts'
import { waitFor } from '../../helpers/wait-for.ts'

type Raw = { socket: net.Socket; got: () => Buffer; closed: () => boolean }

async function start(t: Test, mode: MockMode, handler?: MockHandler): Promise<MockBackend> {
  const m = await MockBackend.start(mode, handler)
  t.teardown(() => m.close())
  return m
}

async function connect(t: Test, port: number): Promise<Raw> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  t.teardown(() => socket.destroy())
  const chunks: Buffer[] = []
  let closed = false
  socket.on('data', (c) => chunks.push(c))
  socket.on('close', () => (closed = true))
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return { socket, got: () => Buffer.concat(chunks), closed: () => closed }
}

t.test('RESP: requests recorded with their argv, pipelined replies in order (a delayed one holds the rest back)', async (t) => {
  const m = await start(t, 'resp', (req) => ({ reply: resp.bulk(req.argv[1] ?? ''), delayMs: req.argv[1]?.toString() === 'a' ? 50 : 0 }))
  const c = await connect(t, m.port)
  c.socket.write(Buffer.concat([resp.command('GET', 'a'), resp.command('GET', 'b').subarray(0, 5)]))
  c.socket.write(resp.command('GET', 'b').subarray(5))
  await waitFor(() => c.got().toString() === '$1\r\na\r\n$1\r\nb\r\n', 5000, 'both replies, in order')
  t.same(m.received.map((r) => r.argv.map(String)), [['GET', 'a'], ['GET', 'b']])
  t.equal(m.received[1]!.raw.toString(), resp.command('GET', 'b').toString(), 'raw bytes recorded')
})

t.test('RESP faults: cut then hang, cut then close, no answer, unparsable request', async (t) => {
  const m = await start(t, 'resp', (req) => {
    const k = req.argv[1]?.toString()
    if (k === 'cut') return { reply: '+HELLO\r\n', cut: 3 }
    if (k === 'close') return { reply: '+BYE\r\n', cut: 2, close: true }
    if (k === 'none') return null
    return { reply: resp.ok }
  })
  const a = await connect(t, m.port)
  a.socket.write(Buffer.concat([resp.command('GET', 'cut'), resp.command('GET', 'x')]))
  await waitFor(() => m.received.length === 2, 5000, 'both received')
  await waitFor(() => a.got().toString() === '+HE', 5000, 'three bytes')
  t.notOk(a.closed(), 'a cut without close leaves the connection open')
  const b = await connect(t, m.port)
  b.socket.write(resp.command('GET', 'close'))
  await waitFor(() => b.closed(), 5000, 'closed after the cut')
  t.equal(b.got().toString(), '+B')
  const c = await connect(t, m.port)
  c.socket.write(resp.command('GET', 'none'))
  await waitFor(() => m.received.length === 4, 5000, 'received')
  t.equal(c.got().length, 0, 'no answer')
  const d = await connect(t, m.port)
  d.socket.write('not resp\r\n')
  await waitFor(() => d.closed(), 5000, 'closed on garbage')
  t.equal(m.protocolErrors, 1)
})

t.test('dnode: REQ frames parsed (msg id, payload argv), RES frames answer them; held replies released out of order', async (t) => {
  const m = await start(t, 'dnode', (req) => ({ reply: resp.bulk(req.argv[1] ?? ''), hold: true }))
  const c = await connect(t, m.port)
  const req = (id: number, k: string): Buffer => {
    const p = resp.command('GET', k)
    return Buffer.concat([Buffer.from(`   $2014$ ${id} 3 0 1 1 *1 d *${p.length}\r\n`), p])
  }
  const bytes = Buffer.concat([req(7, 'x'), req(8, 'y')])
  for (let i = 0; i < bytes.length; i += 9) c.socket.write(bytes.subarray(i, i + 9))
  await waitFor(() => m.heldCount === 2, 5000, 'both held')
  t.same(m.received.map((r) => [r.msgId, r.type, r.argv.map(String)]), [[7, 3, ['GET', 'x']], [8, 3, ['GET', 'y']]])
  m.release()
  const want = Buffer.concat([resFrame(8, resp.bulk('y')), resFrame(7, resp.bulk('x'))])
  await waitFor(() => c.got().equals(want), 5000, 'newest first')
  t.pass('RES frames for 8 then 7')
})
