// Garbage on a node's peer port (dyn_listen): the offending connection is closed and counted, and the node keeps serving clients and peers.
// It must never talk to the peer port through the proxy's own codec: frames here are written by hand, byte for byte, as a stranger would.

import net from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] }],
})
const target = cluster.node('dc1', 'rack1', 1)
const sibling = cluster.node('dc1', 'rack1', 0)
const targetKey = cluster.keysOwnedBy(target, 'pg')[0]!

/** A dnode frame as Dynomite writes it: `   $2014$ id type flags version same_dc *1 d *len\r\n` + payload. */
function dnodeFrame(msgId: number, type: number, payload: string | Buffer, flags = 0): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  return Buffer.concat([Buffer.from(`   $2014$ ${msgId} ${type} ${flags} 1 1 *1 d *${body.length}\r\n`), body])
}
const DMSG_REQ = 3
const DMSG_RES = 5

type RawOutcome = { closed: boolean; received: Buffer }

/** Connects to a peer port, writes `bytes`, and collects what comes back until the node closes or `waitMs` passes. */
function sendRaw(port: number, bytes: Buffer, waitMs: number, until?: (got: Buffer) => boolean): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let settled = false
    const finish = (closed: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ closed, received: Buffer.concat(chunks) })
    }
    const timer = setTimeout(() => finish(false), waitMs)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      if (until?.(Buffer.concat(chunks)) === true) finish(false)
    })
    socket.on('close', () => finish(true))
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true)
      else if (!settled) reject(err)
    })
  })
}

async function protocolErrors(node: ClusterNode): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)
  const text = await res.text()
  const m = /^dynoproxy_client_protocol_errors_total\{pool="dyn_o_mite"\} (\S+)$/m.exec(text)
  return m === null ? NaN : Number(m[1])
}

/** The node still answers its own clients, and its sibling still reaches it over the peer port. */
async function stillServing(t: Test, what: string): Promise<void> {
  const value = `ok-after-${what}`
  t.same(plain(await sibling.call('SET', targetKey, value)), { ok: 'OK' }, `${what}: a peer request to the node still works`)
  t.same(plain(await target.call('GET', targetKey)), value, `${what}: the node still serves its clients`)
}

t.test('a well-formed dnode request by hand is answered (the frames below differ from it only by their defect)', async (t) => {
  await target.redis.call('SET', targetKey, 'hand')
  const get = `*2\r\n$3\r\nGET\r\n$${targetKey.length}\r\n${targetKey}\r\n`
  const out = await sendRaw(target.peerPort, dnodeFrame(7, DMSG_REQ, get), 5000, (b) => b.includes('hand\r\n'))
  const text = out.received.toString('latin1')
  t.match(text, new RegExp(`^ *\\$2014\\$ 7 ${DMSG_RES} `), 'a RES frame answering msg id 7')
  t.match(text, /\r\n\$4\r\nhand\r\n$/, 'carrying the GET reply')
})

const garbage: [string, Buffer][] = [
  ['plain text', Buffer.from('hello, is this the peer port?\r\n')],
  ['a RESP command instead of a dnode frame', Buffer.from('*1\r\n$4\r\nPING\r\n')],
  ['random bytes', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) & 0xff))],
  ['a wrong magic', Buffer.from('   $2015$ 1 3 0 1 1 *1 d *14\r\n*1\r\n$4\r\nPING\r\n')],
  ['a negative payload length', Buffer.from('   $2014$ 1 3 0 1 1 *1 d *-5\r\n')],
  ['an absurd payload length', Buffer.from('   $2014$ 1 3 0 1 1 *1 d *99999999999999999999\r\n')],
  ['an encrypted frame (secure_server_option is none)', dnodeFrame(1, DMSG_REQ, '*1\r\n$4\r\nPING\r\n', 1)],
  ['a never-ending header', Buffer.from(`   $2014$ 1 3 0 1 1 *${'9'.repeat(4096)}`)],
]

t.test('each kind of garbage gets its connection closed, and the node keeps serving', async (t) => {
  const before = await protocolErrors(target)
  for (const [what, bytes] of garbage) {
    const out = await sendRaw(target.peerPort, bytes, 5000)
    t.ok(out.closed, `${what}: the node closed the connection`)
    t.equal(out.received.length, 0, `${what}: and sent nothing back`, { got: out.received.toString('latin1').slice(0, 80) })
    await stillServing(t, what)
  }
  const counted = await waitFor(async () => (await protocolErrors(target)) >= before + garbage.length, 5000, 'protocol errors counted').catch(() => false)
  t.ok(counted, `every garbage connection counted (${before} before, ${await protocolErrors(target)} after, ${garbage.length} sent)`)
})

t.test('a valid frame with a payload that is not a command is refused, and the node keeps serving', async (t) => {
  const out = await sendRaw(target.peerPort, dnodeFrame(9, DMSG_REQ, 'not a command at all\r\n'), 5000, (b) => b.includes('\r\n-'))
  if (out.closed) {
    t.pass('the connection was closed')
  } else {
    t.match(out.received.toString('latin1'), new RegExp(`^ *\\$2014\\$ 9 ${DMSG_RES} [^\\r]*\\r\\n-ERR`), 'or answered with an error in a RES frame')
  }
  await stillServing(t, 'junk payload')
})

t.test('memcached requests on a RESP node\'s peer link are refused, never run with Redis\' meaning', async (t) => {
  await target.redis.call('SET', 'mc:touched', 'v')
  for (const [i, payload] of ['get mc:touched\r\n', 'touch mc:touched 10\r\n', 'delete mc:touched\r\n'].entries()) {
    const out = await sendRaw(target.peerPort, dnodeFrame(40 + i, DMSG_REQ, payload), 5000, (b) => b.includes('\r\n-ERR') && b.toString().endsWith('\r\n'))
    t.match(out.received.toString('latin1'), new RegExp(`^ *\\$2014\\$ ${40 + i} ${DMSG_RES} [^\\r]*\\r\\n-ERR Peer: malformed request payload`), `${payload.trim()}: refused`)
  }
  t.same(plain(await target.redis.call('GET', 'mc:touched')), 'v', 'the key is still there')
  t.equal(plain(await target.redis.call('TTL', 'mc:touched')), -1, 'and was not touched')
})

t.test('many garbage connections at once do not disturb the node', async (t) => {
  const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => sendRaw(target.peerPort, garbage[i % garbage.length]![1], 5000)))
  t.equal(outs.filter((o) => o.closed).length, outs.length, 'every one closed')
  await stillServing(t, 'a burst of garbage')
  t.ok(target.running && target.proxy !== null, 'the node process is still the one we started')
})

t.test('without a secret (loopback, Dynomite compatibility) the peer port still serves keyed datastore commands only', async (t) => {
  const refused = ['*1\r\n$8\r\nFLUSHALL\r\n', '*1\r\n$5\r\nMULTI\r\n', '*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n', '*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n']
  await target.redis.call('SET', targetKey, 'kept')
  for (const [i, payload] of refused.entries()) {
    const out = await sendRaw(target.peerPort, dnodeFrame(20 + i, DMSG_REQ, payload), 5000, (b) => b.includes('\r\n-ERR') && b.toString().endsWith('\r\n'))
    t.match(out.received.toString('latin1'), new RegExp(`^ *\\$2014\\$ ${20 + i} ${DMSG_RES} [^\\r]*\\r\\n-ERR (Peer: .* is not served on the peer port|dynoproxy: FLUSHALL and FLUSHDB .*allow_flush)`), `${payload.split('\r\n')[2]} refused`)
  }
  t.same(plain(await target.redis.call('GET', targetKey)), 'kept', 'the datastore was not flushed')
  t.same(plain(await target.call('SET', targetKey, 'after')), { ok: 'OK' }, 'the next client SET is not +QUEUED')
  t.same(plain(await target.redis.call('GET', targetKey)), 'after', 'and lands in db 0')
})
