// Consistency levels on a 3-rack cluster (one node per rack, so every node owns every key): DC_ONE, DC_QUORUM and DC_SAFE_QUORUM
// with all replicas up, with a datastore down and with diverged replicas. It must never sleep: replicas are set directly, outcomes polled.

import t from 'tap'
import type { Test } from 'tap'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

// Each node has its own level in its YAML, for reads and writes alike: rack1 DC_ONE, rack2 DC_QUORUM, rack3 DC_SAFE_QUORUM.
const LEVELS = { rack1: 'DC_ONE', rack2: 'DC_QUORUM', rack3: 'DC_SAFE_QUORUM' } as const
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] }],
  nodePool: ({ rack }) => ({ read_consistency: LEVELS[rack as keyof typeof LEVELS], write_consistency: LEVELS[rack as keyof typeof LEVELS] }),
})
const one = cluster.node('dc1', 'rack1', 0)
const quorum = cluster.node('dc1', 'rack2', 0)
const safe = cluster.node('dc1', 'rack3', 0)
const all = [one, quorum, safe]

const QUORUM_ERROR = /Failed to achieve Quorum$/
const DYNOMITE_QUORUM_ERROR = 'ERR Dynomite: Failed to achieve Quorum'

/** Sets each rack's replica directly (null deletes it). */
async function replicas(key: string, values: readonly (string | null)[]): Promise<void> {
  await Promise.all(all.map((n, i) => (values[i] === null ? n.redis.call('DEL', key) : n.redis.call('SET', key, values[i]!))))
}

function text(r: RespReply): string | null | { err: string } {
  const p = plain(r)
  return p as string | null | { err: string }
}

/** A call through a node that must answer within `ms` (a fault must give a timely reply, never a hang). */
async function timely(t: Test, node: ClusterNode, ms: number, ...args: string[]): Promise<RespReply> {
  const started = Date.now()
  const reply = await node.call(...args)
  t.ok(Date.now() - started < ms, `${args[0]} via ${node.rack} answered within ${ms} ms`)
  return reply
}

t.test('all replicas up: every level reads its writes, and every replica gets them', async (t) => {
  for (const node of all) {
    const key = `c:up:${node.rack}`
    t.same(plain(await node.call('SET', key, `v-${node.rack}`)), { ok: 'OK' }, `SET at ${LEVELS[node.rack as keyof typeof LEVELS]}`)
    t.same(plain(await node.call('GET', key)), `v-${node.rack}`, `GET at ${LEVELS[node.rack as keyof typeof LEVELS]}`)
    for (const replica of all) t.ok(await waitForValue(replica.redis, key, `v-${node.rack}`), `${key} on ${replica.rack}'s datastore`)
  }
  t.same(plain(await safe.call('GET', 'c:up:none')), null, 'SAFE_QUORUM on a key nobody has: the agreed nil')
  t.same(plain(await quorum.call('INCR', 'c:up:n')), 1, 'QUORUM INCR answers the majority reply')
  t.same(plain(await safe.call('INCR', 'c:up:n')), 2, 'SAFE_QUORUM INCR: every replica answered 2')
})

t.test('diverged replica, two of three agree', async (t) => {
  // The odd replica in each rack in turn: SAFE_QUORUM must answer the majority even when its own rack is the odd one.
  for (let odd = 0; odd < 3; odd++) {
    const key = `c:div2:${odd}`
    const values = ['good', 'good', 'good']
    values[odd] = 'stale'
    await replicas(key, values)
    t.same(text(await one.call('GET', key)), values[0], `odd ${all[odd]!.rack}: DC_ONE answers its own rack's replica`)
    const q = text(await quorum.call('GET', key))
    t.ok(q === 'good' || q === 'stale', `odd ${all[odd]!.rack}: DC_QUORUM answers one of the values`, { got: q })
    t.same(text(await safe.call('GET', key)), 'good', `odd ${all[odd]!.rack}: DC_SAFE_QUORUM answers the majority value`)
  }
  await replicas('c:div2:nil', ['v', null, null])
  t.same(text(await safe.call('GET', 'c:div2:nil')), null, 'SAFE_QUORUM: two nils outvote one value')
  await replicas('c:div2:one-nil', [null, 'v', 'v'])
  t.same(text(await safe.call('GET', 'c:div2:one-nil')), 'v', 'SAFE_QUORUM: two values outvote one nil')
})

t.test('diverged replicas, all three differ', async (t) => {
  await replicas('c:div3', ['a', 'b', 'c'])
  const s = await safe.call('GET', 'c:div3')
  t.equal(s.kind, 'error', 'DC_SAFE_QUORUM fails when no two replicas agree')
  t.match(s.kind === 'error' ? s.value : '', QUORUM_ERROR, 'with the quorum error')
  t.equal(s.kind === 'error' ? s.value : '', DYNOMITE_QUORUM_ERROR, "in Dynomite's words (dyn_error_source: \"Dynomite:\")")
  const q = text(await quorum.call('GET', 'c:div3'))
  t.ok(q === 'a' || q === 'b' || q === 'c', 'DC_QUORUM answers one of the values', { got: q })
  t.same(text(await one.call('GET', 'c:div3')), 'a', "DC_ONE answers its own rack's replica")
})

t.test('per connection: DYNO_CONFIG:CONN_CONSISTENCY overrides the node level', async (t) => {
  await replicas('c:conn', ['odd', 'major', 'major'])
  const conn = await one.connect()
  t.same(plain(await conn.call(['GET', 'c:conn'])), 'odd', 'DC_ONE by the YAML')
  t.same(plain(await conn.call(['DYNO_CONFIG:CONN_CONSISTENCY', 'DC_SAFE_QUORUM'])), { ok: 'OK' }, 'switch this connection to DC_SAFE_QUORUM')
  t.same(plain(await conn.call(['GET', 'c:conn'])), 'major', 'now the majority value')
  t.same(plain(await one.call('GET', 'c:conn')), 'odd', 'another connection keeps DC_ONE')
  conn.destroy()
})

t.test("one rack's datastore down", async (t) => {
  await replicas('c:down', ['x', 'x', 'x'])
  await one.stopRedis()
  const g = await timely(t, one, 3000, 'GET', 'c:down')
  t.same(plain(g), 'x', 'a DC_ONE read on the rack whose datastore is down fails over to another rack')
  t.same(plain(await timely(t, one, 3000, 'SET', 'c:down:w1', 'v')), { ok: 'OK' }, 'and a DC_ONE SET too (safe to apply twice: write failover)')
  t.match(plain(await timely(t, one, 3000, 'INCR', 'c:down:n')), { err: /^ERR Storage: / }, 'an INCR does not fail over: the datastore\'s failure is the answer')
  t.same(plain(await timely(t, quorum, 3000, 'GET', 'c:down')), 'x', 'DC_QUORUM reads with 2 of 3 replicas')
  t.same(plain(await timely(t, quorum, 3000, 'SET', 'c:down:w2', 'q')), { ok: 'OK' }, 'DC_QUORUM writes with 2 of 3 replicas')
  t.same(plain(await timely(t, safe, 3000, 'GET', 'c:down')), 'x', 'DC_SAFE_QUORUM reads: the 2 live replicas agree')
  t.same(plain(await timely(t, safe, 3000, 'SET', 'c:down:w3', 's')), { ok: 'OK' }, 'DC_SAFE_QUORUM writes: 2 identical OKs')
  t.same(plain(await safe.call('GET', 'c:down:w2')), 'q', 'the QUORUM write is readable at SAFE_QUORUM')
  await quorum.redis.call('SET', 'c:down', 'y')
  const s = await timely(t, safe, 3000, 'GET', 'c:down')
  t.match(plain(s), { err: QUORUM_ERROR }, 'SAFE_QUORUM with one replica down and the other two differing: quorum error')

  await one.restartRedis()
  const back = await waitFor(async () => {
    // An APPEND does not fail over to another rack while the datastore is down (not safe to apply twice): it succeeds once this
    // node's datastore is back (or, while that restarted empty store warms up, once another local rack answered it).
    const r = await one.call('APPEND', 'c:down:w4', 'back')
    return r.kind === 'integer' ? r : null
  }, 10_000, 'DC_ONE to write again once its datastore is back').catch(() => null)
  t.ok(back !== null, 'DC_ONE serves again once its datastore is back')
  // An APPEND answered with an error while this node's datastore was away may still have reached the other racks (replica writes go
  // out whatever the local answer, as in Dynomite). What this node then holds depends on whether its warm-up (its redis restarted
  // empty) began before the APPEND that succeeded: its copy's mirror brings the other racks' value, or the copy keeps the write made
  // here first. Either way it ends with what was written.
  const v = plain(await one.call('GET', 'c:down:w4'))
  t.match(v, /^(back)+$/, `and reads what it wrote (${JSON.stringify(v)})`)
})

t.test('two racks of three down: the quorum levels fail in time, they do not hang', async (t) => {
  await replicas('c:two', ['v', 'v', 'v'])
  await Promise.all([one.stopRedis(), quorum.stopRedis()])
  const q = await timely(t, quorum, 3000, 'GET', 'c:two')
  t.equal(q.kind, 'error', 'DC_QUORUM with 1 of 3 replicas: an error', { got: plain(q) })
  const qw = await timely(t, quorum, 3000, 'SET', 'c:two', 'w')
  t.equal(qw.kind, 'error', 'DC_QUORUM write with 1 of 3 replicas: an error', { got: plain(qw) })
  const s = await timely(t, safe, 3000, 'GET', 'c:two')
  t.equal(s.kind, 'error', 'DC_SAFE_QUORUM with 1 of 3 replicas: an error', { got: plain(s) })
  await Promise.all([one.restartRedis(), quorum.restartRedis()])
  const ok = await waitFor(async () => (await quorum.call('SET', 'c:two', 'again')).kind === 'simple', 10_000, 'QUORUM back').catch(() => false)
  t.ok(ok, 'DC_QUORUM writes again once the datastores are back')
})
