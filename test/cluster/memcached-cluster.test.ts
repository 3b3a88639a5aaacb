// A memcached cluster (data_store 1 with dyn_listen): three racks in dc1 (rack1 with two nodes) and a remote dc2, each node a real
// dynoproxy beside its own memcached. Writes through any node reach the key's owner in every rack and datacenter (read from each memcached
// directly), multi-gets are split by owner and merged in key order, meta and noreply work through non-owners, quorum reads see diverged racks,
// node states apply, a RESP payload on the peer port is refused and counted, and a dead peer fails its keys in time. It must never sleep:
// replication is asynchronous, so outcomes are polled with deadlines.

import net from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { storage } from '../helpers/memcached-connection.ts'
import type { MemcachedServer } from '../helpers/memcached.ts'
import type { McReply } from '../helpers/memcached-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1500
// Each node reads and writes at its own level: rack2's node at DC_QUORUM, rack3's at DC_SAFE_QUORUM, the others at DC_ONE.
const LEVELS: Record<string, string> = { 'dc1/rack2': 'DC_QUORUM', 'dc1/rack3': 'DC_SAFE_QUORUM' }
const cluster = await startCluster(t, {
  datastore: 'memcached',
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  timeoutMs: TIMEOUT_MS,
  nodePool: ({ dc, rack }) => {
    const level = LEVELS[`${dc}/${rack}`] ?? 'DC_ONE'
    return { read_consistency: level, write_consistency: level }
  },
})
const [r1a, r1b] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode]
const r2 = cluster.node('dc1', 'rack2', 0)
const r3 = cluster.node('dc1', 'rack3', 0)
const RACKS: [string, string][] = [['dc1', 'rack1'], ['dc1', 'rack2'], ['dc1', 'rack3'], ['dc2', 'rack1']]

/** The key's owner in every rack of every datacenter (its four replicas). */
function ownersOf(key: string): ClusterNode[] {
  return RACKS.map(([dc, rack]) => cluster.ownerOf(key, dc, rack))
}

/** The raw reply of `get key` asked of one memcached directly ('' for a miss). */
async function direct(server: MemcachedServer, key: string): Promise<string> {
  const r = await server.call(`get ${key}\r\n`)
  return r.head === 'END' ? '' : r.raw.toString('latin1')
}

function valueOf(r: McReply): string | null {
  const m = /^VALUE \S+ \d+ \d+(?: \d+)?\r\n([\s\S]*?)\r\nEND\r\n$/.exec(r.raw.toString('latin1'))
  return m === null ? null : m[1]!
}

/** Waits until every replica of `key` holds `value` (null: none holds the key); resolves with the replicas that do not. */
async function replicasHold(key: string, value: string | null, deadlineMs = 8000): Promise<string[]> {
  const owners = ownersOf(key)
  const wrong = async (): Promise<string[]> => {
    const out: string[] = []
    for (const o of owners) {
      const got = await direct(o.memcached, key)
      const v = got === '' ? null : (/\r\n([\s\S]*)\r\nEND\r\n$/.exec(got)?.[1] ?? got)
      if (v !== value) out.push(`${o.name}=${JSON.stringify(v)}`)
    }
    return out
  }
  await waitFor(async () => (await wrong()).length === 0, deadlineMs, `${key} = ${value} on every replica`, 25).catch(() => {})
  return wrong()
}

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

/** A node's figure for one of its peers, e.g. replica_write_failures_total with code="DYN_ERR_ERROR_REPLY". */
async function peerMetric(node: ClusterNode, name: string, peer: ClusterNode, code?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const labels = `pool="dyn_o_mite",peer="${peer.peerName}"${code === undefined ? '' : `,code="${code}"`}`
  const m = new RegExp(`^dynoproxy_${name}\\{${labels.replace(/[.$]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('set, get, incr, delete and cas through every node reach the owner in every rack and the remote datacenter', async (t) => {
  for (const via of cluster.nodes) {
    const key = `mcc:${via.dc}:${via.rack}:${via.index}`
    t.equal((await via.mc(storage('set', key, `v-${via.name}`, { flags: 7 }))).head, 'STORED', `set via ${via.name}`)
    t.same(await replicasHold(key, `v-${via.name}`), [], `${key} on the owner in every rack and datacenter`)
    // The other node of rack1 does not own it there: only owners hold keys.
    const notOwner = cluster.rackNodes('dc1', 'rack1').find((n) => n !== cluster.ownerOf(key, 'dc1', 'rack1'))!
    t.equal(await direct(notOwner.memcached, key), '', `not on rack1's non-owner ${notOwner.name}`)
    for (const reader of cluster.nodes) {
      const r = await reader.mc(`get ${key}\r\n`)
      t.equal(r.raw.toString('latin1'), `VALUE ${key} 7 ${`v-${via.name}`.length}\r\nv-${via.name}\r\nEND\r\n`, `get via ${reader.name}`)
    }

    const counter = `${key}:n`
    t.equal((await via.mc(storage('set', counter, '10'))).head, 'STORED')
    t.same(await replicasHold(counter, '10'), [])
    t.equal((await via.mc(`incr ${counter} 5\r\n`)).head, '15', `incr via ${via.name}`)
    t.equal((await via.mc(`decr ${counter} 2\r\n`)).head, '13', `decr via ${via.name}`)
    t.same(await replicasHold(counter, '13'), [], 'incr and decr applied on every replica')

    t.equal((await via.mc(`delete ${key}\r\n`)).head, 'DELETED', `delete via ${via.name}`)
    t.same(await replicasHold(key, null), [], 'deleted on every replica')
    t.equal((await via.mc(`delete ${key}\r\n`)).head, 'NOT_FOUND')

    // cas: gets and cas through the same node (the unique is its own rack owner's); a stored cas reaches every replica.
    const ck = `${key}:cas`
    t.equal((await via.mc(storage('set', ck, 'one'))).head, 'STORED')
    t.same(await replicasHold(ck, 'one'), [])
    const conn = await via.mcConnect()
    const g = await conn.call(`gets ${ck}\r\n`)
    const unique = /^VALUE \S+ 0 3 (\d+)$/.exec(g.head)?.[1]
    t.ok(unique !== undefined, `gets via ${via.name} gives a cas unique`, { got: g.head })
    t.equal(await conn.head(storage('cas', ck, 'bad', { cas: String(Number(unique) + 1000) })), 'EXISTS', 'a stale unique: EXISTS')
    t.equal(await conn.head(storage('cas', ck, 'two', { cas: unique! })), 'STORED', `cas via ${via.name}`)
    t.same(await replicasHold(ck, 'two'), [], 'the stored cas reached every replica')
    conn.destroy()
  }
})

t.test('a multi-get across owners returns the values in the client\'s key order, through any node', async (t) => {
  const mine = [...cluster.keysOwnedBy(r1a, 'mg:a', 3), ...cluster.keysOwnedBy(r1b, 'mg:b', 3)]
  const keys = [mine[0]!, mine[3]!, mine[1]!, 'mg:missing', mine[4]!, mine[2]!, mine[5]!]
  for (const k of mine) t.equal((await r2.mc(storage('set', k, `val-${k}`))).head, 'STORED')
  for (const k of mine) t.same(await replicasHold(k, `val-${k}`), [], `${k} replicated`)
  const expected = keys.filter((k) => k !== 'mg:missing').map((k) => `VALUE ${k} 0 ${`val-${k}`.length}\r\nval-${k}\r\n`).join('') + 'END\r\n'
  for (const via of cluster.nodes) {
    const r = await via.mc(`get ${keys.join(' ')}\r\n`)
    t.equal(r.raw.toString('latin1'), expected, `get of ${keys.length} keys via ${via.name}`)
    const gs = await via.mc(`gets ${keys.join(' ')}\r\n`)
    const order = [...gs.raw.toString('latin1').matchAll(/^VALUE (\S+) 0 \d+ \d+\r\n/gm)].map((m) => m[1])
    t.same(order, keys.filter((k) => k !== 'mg:missing'), `gets via ${via.name}: every hit, in key order`)
  }
  const before = await metric(r1a, 'requests_split_total')
  await r1a.mc(`get ${keys.join(' ')}\r\n`)
  t.ok((await metric(r1a, 'requests_split_total')) > before, 'rack1 splits it by owner (two owners there)')
})

t.test('meta commands, quiet mode and base64 keys through a non-owner node', async (t) => {
  const key = cluster.keysOwnedBy(r1b, 'meta')[0]!
  const conn = await r1a.mcConnect()
  t.equal(await conn.head(`ms ${key} 2 T0 F5\r\nhi\r\n`), 'HD', 'ms through the non-owner')
  const mg = await conn.call(`mg ${key} v f t\r\n`)
  t.equal(mg.raw.toString('latin1'), 'VA 2 f5 t-1\r\nhi\r\n', 'mg sees value and flags')
  t.same(await replicasHold(key, 'hi'), [], 'ms reached every replica')
  t.equal((await direct(r3.memcached, key)).split('\r\n')[0], `VALUE ${key} 5 2`, 'with its client flags')

  const n = `${key}:n`
  t.equal(await conn.head(`ma ${n} N0 J13\r\n`), 'HD', 'ma autovivifies')
  t.equal((await conn.call(`ma ${n} v D4\r\n`)).raw.toString('latin1'), 'VA 2\r\n17\r\n', 'ma with v returns the new value')
  t.same(await replicasHold(n, '17'), [], 'ma applied on every replica')

  // Quiet mode: the nominal replies (HD, EN) are not shown; failures and values are; mn closes the batch.
  const q = `${key}:q`
  conn.write(`ms ${q} 3 q\r\nabc\r\nmg ${key}:absent v q\r\nmg ${q} v q\r\nmd ${key}:absent q\r\nms ${q} 1 q MA\r\nd\r\nmn\r\n`)
  const replies = (await conn.readThroughMn()).map((r) => r.raw.toString('latin1'))
  t.same(replies, ['VA 3\r\nabc\r\n', 'NF\r\n', 'MN\r\n'], 'quiet batch: only the value, the miss of md and MN')
  t.same(await replicasHold(q, 'abcd'), [], 'the quiet ms and append reached every replica')
  t.equal(await conn.head(`md ${q} q\r\nmn\r\n`), 'MN', 'a quiet md shows nothing')
  t.same(await replicasHold(q, null), [], 'and deleted everywhere')

  // b flag: the key travels base64-encoded but is placed (and stored) as its decoded bytes.
  const plainKey = cluster.keysOwnedBy(r1b, 'b64')[0]!
  t.equal(await conn.head(`ms ${Buffer.from(plainKey).toString('base64')} 3 b\r\nb64\r\n`), 'HD')
  t.same(await replicasHold(plainKey, 'b64'), [], 'stored under the decoded key on its owners')
  t.equal(await conn.head(`md ${q}\r\n`), 'NF', 'a plain md still answers')
  conn.destroy()
})

t.test('noreply writes through a non-owner: no reply, applied everywhere, the stream stays in step', async (t) => {
  const [k1, k2] = cluster.keysOwnedBy(r1b, 'nr', 2) as [string, string]
  const conn = await r1a.mcConnect()
  t.equal(await conn.head(storage('set', k2, '1')), 'STORED')
  conn.write(Buffer.concat([
    storage('set', k1, 'quiet', { noreply: true }),
    Buffer.from(`incr ${k2} 41 noreply\r\n`),
    storage('append', k1, '!', { noreply: true }),
    Buffer.from(`touch ${k1} 0 noreply\r\nget ${k1} ${k2}\r\n`),
  ]))
  const [r] = await conn.read(1)
  t.equal(r!.raw.toString('latin1'), `VALUE ${k1} 0 6\r\nquiet!\r\nVALUE ${k2} 0 2\r\n42\r\nEND\r\n`, 'the first reply is the get: nothing for the noreply writes')
  t.same(await replicasHold(k1, 'quiet!'), [])
  t.same(await replicasHold(k2, '42'), [])
  conn.write(`delete ${k1} noreply\r\nmn\r\n`)
  t.same((await conn.readThroughMn()).map((x) => x.head), ['MN'])
  t.same(await replicasHold(k1, null), [], 'the noreply delete reached every replica')
  conn.destroy()
})

t.test('DC_QUORUM and DC_SAFE_QUORUM reads with one rack diverged', async (t) => {
  const key = 'quorum:k'
  const locals = RACKS.slice(0, 3).map(([dc, rack]) => cluster.ownerOf(key, dc, rack))
  const put = (values: string[]): Promise<unknown> => Promise.all(locals.map((o, i) => o.memcached.call(storage('set', key, values[i]!))))
  for (let odd = 0; odd < 3; odd++) {
    const values = ['good', 'good', 'good']
    values[odd] = 'stale'
    await put(values)
    t.equal(valueOf(await r3.mc(`get ${key}\r\n`)), 'good', `DC_SAFE_QUORUM (rack3) answers the majority, odd rack ${odd + 1}`)
    const q = valueOf(await r2.mc(`get ${key}\r\n`))
    t.ok(q === 'good' || q === 'stale', 'DC_QUORUM (rack2) answers a value', { got: q })
    t.equal((await r3.mc(`mg ${key} v\r\n`)).raw.toString('latin1'), 'VA 4\r\ngood\r\n', 'mg at DC_SAFE_QUORUM too')
  }
  await put(['a', 'b', 'c'])
  t.equal((await r3.mc(`get ${key}\r\n`)).head, 'SERVER_ERROR Dynomite: Failed to achieve Quorum', 'DC_SAFE_QUORUM with no two racks agreeing')
  t.ok(['a', 'b', 'c'].includes(valueOf(await r2.mc(`get ${key}\r\n`)) ?? ''), 'DC_QUORUM still answers')
  t.equal((await r3.mc(storage('set', key, 'agreed'))).head, 'STORED', 'a DC_SAFE_QUORUM write: every rack stored it')
  t.equal(valueOf(await r3.mc(`get ${key}\r\n`)), 'agreed')
  t.equal((await r3.mc('get quorum:nobody\r\n')).raw.toString('latin1'), 'END\r\n', 'the agreed miss')
})

t.test('node state STANDBY refuses clients; NORMAL serves again', async (t) => {
  const state = async (s: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${r2.statsPort}/state/${s}`, { method: 'POST' })
    t.equal(res.status, 200, `state ${s}`)
  }
  const key = 'state:k'
  t.equal((await r2.mc(storage('set', key, 'v'))).head, 'STORED')
  await state('standby')
  const REFUSED = "SERVER_ERROR Dynomite: Dynomite's current state does not allow this request"
  t.equal((await r2.mc(`get ${key}\r\n`)).head, REFUSED, 'STANDBY: a read is refused')
  t.equal((await r2.mc(storage('set', key, 'x'))).head, REFUSED, 'STANDBY: a write is refused')
  t.equal((await r2.mc('mn\r\n')).head, 'MN', 'mn still answers')
  const refusedBefore = await metric(r2, 'state_rejected_total')
  const failedBefore = await peerMetric(r1a, 'replica_write_failures_total', r2, 'DYN_ERR_ERROR_REPLY')
  t.equal((await r1a.mc(storage('set', key, 'while-standby'))).head, 'STORED', 'a write through another node still succeeds at DC_ONE')
  await waitFor(async () => (await metric(r2, 'state_rejected_total')) > refusedBefore, 8000, 'the replica write to the STANDBY node is refused there')
  // The refusal is a memcached SERVER_ERROR line inside the RES frame: the writer's link must see it as an error.
  await waitFor(async () => (await peerMetric(r1a, 'replica_write_failures_total', r2, 'DYN_ERR_ERROR_REPLY')) > failedBefore, 8000, 'the writer counts the refused replica write')
  t.pass('the writer counted the refused replica write as DYN_ERR_ERROR_REPLY for that peer')
  t.equal(valueOf(await r2.memcached.call(`get ${key}\r\n`)), 'v', 'and not applied to its memcached')
  await state('normal')
  // The refused replica write was kept as a hint: it arrives once the node serves again.
  await waitFor(async () => (await peerMetric(r1a, 'hints_queued', r2)) === 0, 15_000, 'the writer replays its hint to the node back in NORMAL')
  t.equal(valueOf(await r2.memcached.call(`get ${key}\r\n`)), 'while-standby', 'the write refused in STANDBY reached its memcached as a hint')
  t.equal((await r2.mc(storage('set', key, 'after'))).head, 'STORED', 'NORMAL: served again')
  t.same(await replicasHold(key, 'after'), [])
})

/** A dnode frame as Dynomite writes it: `   $2014$ id type flags version same_dc *1 d *len\r\n` + payload. */
function dnodeFrame(msgId: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1')
  return Buffer.concat([Buffer.from(`   $2014$ ${msgId} 3 0 1 1 *1 d *${body.length}\r\n`), body])
}

/** Writes frames to a peer port and collects what comes back until `until` holds, the node closes, or the deadline. */
function peerExchange(port: number, bytes: Buffer, until: (s: string) => boolean, ms = 8000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let text = ''
    const done = (closed: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ text, closed })
    }
    const timer = setTimeout(() => done(false), ms)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (until(text)) done(false)
    })
    socket.on('close', () => done(true))
    socket.on('error', () => {})
  })
}

t.test('the peer port of a memcached node: a RESP payload and node-wide commands are refused and counted; keyed memcached requests are served', async (t) => {
  const key = cluster.keysOwnedBy(r1b, 'peer')[0]!
  t.equal((await r1b.mc(storage('set', key, 'kept'))).head, 'STORED')
  const before = await metric(r1b, 'peer_requests_refused_total')
  const frames = Buffer.concat([
    dnodeFrame(1, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n'),
    dnodeFrame(2, 'flush_all\r\n'),
    dnodeFrame(3, 'stats\r\n'),
    dnodeFrame(4, `get ${key}\r\n`),
    // A token move's purge with arguments that are not a range request: refused, nothing deleted.
    dnodeFrame(5, 'dynoproxy_purge 0 1000 1 9 0\r\n'),
    // Membership's hello (RESP GET of a reserved key): answered, wrapped as one memcached value.
    dnodeFrame(6, '*2\r\n$3\r\nGET\r\n$16\r\n\u0000dynoproxy:hello\r\n'),
  ])
  const got = await peerExchange(r1b.peerPort, frames, (s) => s.includes('kept\r\nEND\r\n') && s.includes('dynoproxy 1\r\n\r\nEND\r\n'))
  t.match(got.text, /\$2014\$ 1 5 [^\r]*\r\nCLIENT_ERROR Peer: malformed request payload\r\n/, 'RESP payload: an error in a RES frame')
  t.match(got.text, /\$2014\$ 2 5 [^\r]*\r\nCLIENT_ERROR Peer: flush_all is not served on the peer port/, 'flush_all refused')
  t.match(got.text, /\$2014\$ 3 5 [^\r]*\r\nCLIENT_ERROR Peer: stats is not served/, 'stats refused')
  t.match(got.text, new RegExp(`\\$2014\\$ 4 5 [^\\r]*\\r\\nVALUE ${key} 0 4\\r\\nkept\\r\\nEND\\r\\n`), 'a keyed get is served')
  t.match(got.text, /\$2014\$ 5 5 [^\r]*\r\nSERVER_ERROR dynoproxy range: [^\r]*\r\n/, 'a malformed purge refused')
  t.match(got.text, /\$2014\$ 6 5 [^\r]*\r\nVALUE dynoproxy_resp 0 18\r\n\$11\r\ndynoproxy 1\r\n\r\nEND\r\n/, 'the hello answered')
  t.equal((await metric(r1b, 'peer_requests_refused_total')) - before, 4, 'the four refusals are counted')
  t.equal(valueOf(await r1b.memcached.call(`get ${key}\r\n`)), 'kept', 'nothing was flushed')
  t.equal(await direct(r1b.memcached, 'k'), '', 'the RESP SET did not reach memcached')
})

async function timely(t: Test, node: ClusterNode, request: string | Buffer, ms: number, what: string): Promise<McReply> {
  const started = Date.now()
  const r = await node.mc(request, ms + 5000)
  const took = Date.now() - started
  t.ok(took < ms, `${what} answered in ${took} ms (< ${ms})`)
  return r
}

t.test('a dead peer: reads and sets of its keys fail over to another rack in time, a multi-get over it fails, others keep working', async (t) => {
  const deadKey = cluster.keysOwnedBy(r1b, 'dead')[0]!
  const liveKey = cluster.keysOwnedBy(r1a, 'live')[0]!
  t.equal((await r1a.mc(storage('set', deadKey, 'x'))).head, 'STORED')
  await r1b.kill()
  const g = await timely(t, r1a, `get ${deadKey}\r\n`, TIMEOUT_MS + 2000, 'get of a dead owner\'s key')
  t.equal(valueOf(g), 'x', `get: answered by another rack (read failover): ${JSON.stringify(g.raw.toString())}`)
  const s = await timely(t, r1a, storage('set', deadKey, 'y'), TIMEOUT_MS + 2000, 'set of a dead owner\'s key')
  // Before the detector sees it down, or after: the set is stored by the next rack and the dead owner gets it as a hint.
  t.equal(s.head, 'STORED', 'set: stored by another rack (write failover)')
  const m = await timely(t, r1a, `get ${liveKey} ${deadKey}\r\n`, TIMEOUT_MS + 2000, 'multi-get over a dead owner')
  t.match(m.head, /^SERVER_ERROR Peer: /, 'a multi-get with a piece on the dead node fails as a whole')
  t.equal((await r1a.mc(storage('set', liveKey, 'ok'))).head, 'STORED', 'a live owner\'s key still works')
  t.equal(valueOf(await r2.mc(`get ${deadKey}\r\n`)), 'y', 'the other racks still serve (and took the write)')
})
