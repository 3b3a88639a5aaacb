// Join with writes that read what they modify (INCR, HSET of one field, RPUSH) while the joiner copies its range: the shadow write
// reaches the joiner before the copy does and creates the key there from nothing, which the copy's RESTORE (never replacing) then
// keeps; the copy's mirror (cluster/mirror.ts) reads such keys again at the source and writes the source's value. The same in a
// leave's hand-over. Found while writing bench/membership.ts (issue 12): a SET-only load cannot show it. Without the mirror 294-299
// of each 300 were wrong.
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  seeds: (_n, i) => (i === 0 ? [] : [0]),
  deferStart: [1],
  // A slow copy (32 keys a step, 50 ms between steps: seconds), so the writes below land before the copy reaches their keys.
  pool: { handoff_grace: 2000, warm_up_batch: 32, warm_up_pause: 50 },
  // Node 0's cleanup after the join (its own warm_up_batch and warm_up_pause) is not under test: it runs in big steps, so the second
  // test does not wait seconds for it. Node 1 copies (join) and hands over (leave) with the slow settings above.
  nodePool: ({ index }) => (index === 1 ? { join: true } : { warm_up_batch: 1000, warm_up_pause: 5 }),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]
// The copies are slowed down on purpose: more than the suite's default 120 s per file under CI's load.
t.setTimeout(300_000)

async function joinPhase(n: ClusterNode): Promise<string> {
  const i = (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as { gossip?: { join: string } }
  return i.gossip?.join ?? ''
}

const COUNT = 300

t.test('INCR, HSET and RPUSH during the join copy keep the values written before it', async (t) => {
  const c = await RespConnection.connect(n0.clientPort, { t })
  // Filler, so the copy has enough steps to be slow, then the keys under test, all written before the join.
  for (let i = 0; i < 4000; i += 200) await c.pipeline(Array.from({ length: 200 }, (_, j) => ['SET', `fill:${i + j}`, 'x']))
  const ctr = cluster.keysOwnedBy(n1, 'ctr', COUNT)
  const hash = cluster.keysOwnedBy(n1, 'hash', COUNT)
  const list = cluster.keysOwnedBy(n1, 'list', COUNT)
  await c.pipeline(ctr.map((k) => ['SET', k, '100']))
  await c.pipeline(hash.map((k) => ['HSET', k, 'a', '1', 'b', '2', 'c', '3']))
  await c.pipeline(list.map((k) => ['RPUSH', k, 'x', 'y']))
  await n1.start()
  await waitFor(async () => (await joinPhase(n1)) === 'copying', 30_000, 'node 1 to start copying')
  // Each acknowledged through node 0 while node 1 copies.
  t.ok((await c.pipeline(ctr.map((k) => ['INCR', k]))).every((r) => typeof plain(r) === 'number'), 'INCRs acknowledged')
  t.ok((await c.pipeline(hash.map((k) => ['HSET', k, 'd', '4']))).every((r) => typeof plain(r) === 'number'), 'HSETs acknowledged')
  t.ok((await c.pipeline(list.map((k) => ['RPUSH', k, 'z']))).every((r) => typeof plain(r) === 'number'), 'RPUSHes acknowledged')
  await waitFor(async () => (await joinPhase(n1)) === 'done', 120_000, 'node 1 to finish joining')
  const via = await RespConnection.connect(n1.clientPort, { t })
  const counters = (await via.pipeline(ctr.map((k) => ['GET', k]))).map(plain)
  const hlens = (await via.pipeline(hash.map((k) => ['HLEN', k]))).map(plain)
  const llens = (await via.pipeline(list.map((k) => ['LLEN', k]))).map(plain)
  const badCtr = counters.filter((v) => v !== '101').length
  const badHash = hlens.filter((v) => v !== 4).length
  const badList = llens.filter((v) => v !== 3).length
  t.comment(`after the join: counters wrong ${badCtr}/${COUNT} (e.g. ${JSON.stringify(counters.find((v) => v !== '101'))}), ` +
    `hashes wrong ${badHash}/${COUNT} (e.g. HLEN ${JSON.stringify(hlens.find((v) => v !== 4))}), lists wrong ${badList}/${COUNT}`)
  t.equal(badCtr, 0, 'every counter is 101 (100, then one INCR)')
  t.equal(badHash, 0, 'every hash has its 3 fields and the new one')
  t.equal(badList, 0, 'every list has its 2 items and the new one')
})

t.test('INCR, HSET and RPUSH during a leave\'s hand-over keep the values written before it', async (t) => {
  // The join's grace past and node 0's cleanup done: node 0 holds none of node 1's keys, as in a rack that never moved.
  await waitFor(async () => {
    const i = (await (await fetch(`http://127.0.0.1:${n0.statsPort}/info`)).json()) as { gossip?: { cleanup: { runs: number; running: unknown } } }
    if ((i.gossip?.cleanup.runs ?? 0) > 0) return String(i.gossip?.cleanup.running) === 'false'
    // Not started by itself (yet, or at all if node 0 never saw node 1 joining under load): asked by hand (409 while moves settle).
    await fetch(`http://127.0.0.1:${n0.statsPort}/cleanup`, { method: 'POST' })
    return false
  }, 150_000, 'node 0 to clean up after the join')
  const c = await RespConnection.connect(n0.clientPort, { t })
  const ctr = cluster.keysOwnedBy(n1, 'lctr', COUNT)
  const hash = cluster.keysOwnedBy(n1, 'lhash', COUNT)
  const list = cluster.keysOwnedBy(n1, 'llist', COUNT)
  await c.pipeline(ctr.map((k) => ['SET', k, '100']))
  await c.pipeline(hash.map((k) => ['HSET', k, 'a', '1', 'b', '2', 'c', '3']))
  await c.pipeline(list.map((k) => ['RPUSH', k, 'x', 'y']))
  t.equal(plain(await n1.redis.call('GET', ctr[0]!)), '100', 'node 1 owns the keys under test')
  t.equal(plain(await n0.redis.call('GET', ctr[0]!)), null, 'node 0 does not hold them')
  let last = ''
  // The join's handoff_grace must be past before a leave is accepted.
  await waitFor(async () => (await fetch(`http://127.0.0.1:${n1.statsPort}/state/leaving`, { method: 'POST' })).status === 200, 30_000, 'node 1 to accept the leave')
  await waitFor(async () => {
    // Node 0 sends node 1's writes to itself too once it sees node 1 LEAVING; the hand-over starts after that.
    const i = (await (await fetch(`http://127.0.0.1:${n1.statsPort}/info`)).json()) as { warm_up?: { phase: string; keys_scanned: number } }
    const d = (await (await fetch(`http://127.0.0.1:${n0.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { node_state: string }[] }[] }[] }
    const seen = d.dcs.some((x) => x.racks.some((r) => r.servers.some((s) => s.node_state === 'leaving')))
    last = JSON.stringify({ states: d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => s.node_state))), warm_up: i.warm_up })
    return seen && i.warm_up?.phase === 'leaving' && i.warm_up.keys_scanned > 0
  }, 30_000, 'node 1 to start handing over', 20).catch((err: Error) => {
    throw new Error(`${err.message}: last seen ${last}`)
  })
  t.ok((await c.pipeline(ctr.map((k) => ['INCR', k]))).every((r) => typeof plain(r) === 'number'), 'INCRs acknowledged')
  t.ok((await c.pipeline(hash.map((k) => ['HSET', k, 'd', '4']))).every((r) => typeof plain(r) === 'number'), 'HSETs acknowledged')
  t.ok((await c.pipeline(list.map((k) => ['RPUSH', k, 'z']))).every((r) => typeof plain(r) === 'number'), 'RPUSHes acknowledged')
  await waitFor(async () => {
    const d = (await (await fetch(`http://127.0.0.1:${n0.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { node_state: string }[] }[] }[] }
    return d.dcs.some((x) => x.racks.some((r) => r.servers.some((s) => s.node_state === 'left')))
  }, 120_000, 'node 0 to see node 1 left')
  const counters = (await c.pipeline(ctr.map((k) => ['GET', k]))).map(plain)
  const hlens = (await c.pipeline(hash.map((k) => ['HLEN', k]))).map(plain)
  const llens = (await c.pipeline(list.map((k) => ['LLEN', k]))).map(plain)
  const badCtr = counters.filter((v) => v !== '101').length
  const badHash = hlens.filter((v) => v !== 4).length
  const badList = llens.filter((v) => v !== 3).length
  t.comment(`after the leave: counters wrong ${badCtr}/${COUNT} (e.g. ${JSON.stringify(counters.find((v) => v !== '101'))}), ` +
    `hashes wrong ${badHash}/${COUNT} (e.g. HLEN ${JSON.stringify(hlens.find((v) => v !== 4))}), lists wrong ${badList}/${COUNT}`)
  t.equal(badCtr, 0, 'every counter is 101 (100, then one INCR)')
  t.equal(badHash, 0, 'every hash has its 3 fields and the new one')
  t.equal(badList, 0, 'every list has its 2 items and the new one')
})
