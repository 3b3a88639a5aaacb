// DynoClient on a real 2-rack cluster (dc1: rack1 with 2 nodes, rack2 with 1): requests land on their owner (no node forwards),
// micro-batches come back in order, a node in STANDBY or SIGSTOPped or killed is routed around for its own ranges only.
// Waits are conditions with deadlines; every stopped process gets SIGCONT in teardown (the helper's stop does it).

import t from 'tap'
import { DynoClient, type DynoError } from 'dynoproxy/client'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, { dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] }], timeoutMs: 1000 })
const a = cluster.node('dc1', 'rack1', 0)
const b = cluster.node('dc1', 'rack1', 1)
const r2 = cluster.node('dc1', 'rack2', 0)
const seeds = cluster.nodes.map((n) => `http://127.0.0.1:${n.statsPort}`)

const c = await DynoClient.connect({
  seeds, dc: 'dc1', rack: 'rack1', refreshIntervalMs: 500,
  pool: { requestTimeoutMs: 400, connectTimeoutMs: 400, healthCheckIntervalMs: 200, failuresToMarkDown: 1 },
  retry: { reads: { policy: 'exponential', maxAttempts: 4, budgetMs: 3000 } },
})
t.teardown(() => c.close())

/** Requests each node sent to its peers (server_requests_total labelled by peer), by peer name. */
async function peerRequests(n: ClusterNode): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${n.statsPort}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^dynoproxy_server_requests_total\{.*peer="([^"]+)".*\} (\d+)$/.exec(line)
    if (m !== null) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]))
  }
  return out
}

const nodeStats = (n: ClusterNode) => c.stats().nodes.find((s) => s.node === `127.0.0.1:${n.clientPort}`)!
const keysA = cluster.keysOwnedBy(a, 'ca', 20)
const keysB = cluster.keysOwnedBy(b, 'cb', 20)

t.test('the client sees the whole cluster with every node\'s client port', async (t) => {
  t.equal(c.nodes.length, 3)
  t.same(c.nodes.map((n) => n.clientPort).sort(), [a.clientPort, b.clientPort, r2.clientPort].sort())
  t.ok(c.nodes.every((n) => n.state === 'normal'))
})

t.test('routing lands on the owner: no forwards by the nodes\' own counters (the coordinator path as the control)', async (t) => {
  // Nodes also send a few requests of their own to peers (failure detection, several a second): the bounds leave room for
  // those and no more, while 100 requests through a coordinator forward about half of them.
  const many = [...cluster.keysOwnedBy(a, 'ra', 50), ...cluster.keysOwnedBy(b, 'rb', 50)]
  const toSibling = async (): Promise<number> => ((await peerRequests(a)).get(b.peerName) ?? 0) + ((await peerRequests(b)).get(a.peerName) ?? 0)
  let before = await toSibling()
  for (const k of many) await a.call('GET', k)
  const viaCoordinator = (await toSibling()) - before
  t.ok(viaCoordinator >= 50, `control: 100 GETs through node a forwarded ${viaCoordinator} to its sibling`)
  before = await toSibling()
  for (const k of many) t.equal(await c.set(k, `v-${k}`), 'OK')
  for (const k of many) t.equal(await c.get(k), `v-${k}`)
  const viaClient = (await toSibling()) - before
  t.ok(viaClient < 15, `the client's 200 requests: ${viaClient} in-rack forwards (background only)`)
  for (const k of [...keysA, ...keysB]) t.equal(await c.set(k, `v-${k}`), 'OK')
  t.equal(nodeStats(a).requests, 120, 'a served its 50 + 20 SETs and 50 GETs')
  t.equal(nodeStats(b).requests, 120)
  t.equal(nodeStats(r2).requests, 0, 'the other rack got nothing from this client')
  // The writes reached rack2 by the cluster's own replication.
  await waitFor(async () => (await r2.call('GET', keysB[0]!)).kind === 'bulk', 5000, 'replicated to rack2')
})

t.test('micro-batches: one piece per owner, stitched back in caller order with missing keys', async (t) => {
  const before = [nodeStats(a).requests, nodeStats(b).requests]
  const keys = [keysB[0]!, 'nope:1', keysA[0]!, keysA[1]!, 'nope:2', keysB[1]!]
  t.same(await c.mget(keys), [`v-${keysB[0]}`, null, `v-${keysA[0]}`, `v-${keysA[1]}`, null, `v-${keysB[1]}`])
  t.equal(nodeStats(a).requests + nodeStats(b).requests - before[0]! - before[1]!, 2, 'two pieces: one per owner')
  t.equal(await c.mset({ [keysA[12]!]: 'm1', [keysB[12]!]: 'm2' }), 'OK')
  t.same(await c.mget(keysA[12]!, keysB[12]!), ['m1', 'm2'])
  const p = c.pipeline()
  p.get(keysB[12]!).get(keysA[12]!).set(keysA[13]!, 'p').get('nope:3').get(keysA[13]!)
  t.same(await p.exec(), [[null, 'm2'], [null, 'm1'], [null, 'OK'], [null, null], [null, 'p']])
})

t.test('a node in STANDBY is routed around surgically: only its ranges move', async (t) => {
  t.equal(await (await fetch(`http://127.0.0.1:${b.statsPort}/state/standby`, { method: 'POST' })).text(), 'OK\r\n')
  t.teardown(async () => void (await fetch(`http://127.0.0.1:${b.statsPort}/state/normal`, { method: 'POST' })))
  await waitFor(() => c.nodes.find((n) => n.clientPort === b.clientPort)?.state === 'standby', 5000, 'the refresh to see b in standby')
  const before = { a: nodeStats(a).requests, b: nodeStats(b).requests, r2: nodeStats(r2).requests }
  for (const k of keysB.slice(0, 5)) t.equal(await c.get(k), `v-${k}`, 'b\'s key served by rack2')
  for (const k of keysA.slice(0, 5)) t.equal(await c.get(k), `v-${k}`)
  t.equal(nodeStats(b).requests - before.b, 0, 'nothing sent to b')
  t.equal(nodeStats(r2).requests - before.r2, 5, 'b\'s five keys went to rack2')
  t.equal(nodeStats(a).requests - before.a, 5, 'a\'s keys stayed on a')
  t.ok(nodeStats(r2).failovers >= 5)
  await fetch(`http://127.0.0.1:${b.statsPort}/state/normal`, { method: 'POST' })
  await waitFor(() => c.nodes.find((n) => n.clientPort === b.clientPort)?.state === 'normal', 5000, 'b normal again')
  const back = nodeStats(b).requests
  t.equal(await c.get(keysB[0]!), `v-${keysB[0]}`)
  t.equal(nodeStats(b).requests - back, 1, 'b serves its keys again')
})

t.test('a SIGSTOPped owner: its in-flight micro-batch piece is retried on the replica rack, the other piece is not resent', async (t) => {
  b.proxy!.kill('SIGSTOP')
  t.teardown(() => b.proxy?.kill('SIGCONT'))
  const before = { a: nodeStats(a).requests, r2: nodeStats(r2).requests }
  const keys = [keysA[4]!, keysB[4]!, keysA[5]!, keysB[5]!]
  t.same(await c.mget(keys), keys.map((k) => `v-${k}`), 'every value, in order')
  t.equal(nodeStats(a).requests - before.a, 1, 'a\'s piece sent once')
  t.equal(nodeStats(r2).requests - before.r2, 1, 'b\'s piece retried on rack2')
  t.ok(nodeStats(b).timeouts >= 1, 'b\'s piece timed out')
  // Further reads of b's keys go to rack2 without waiting for b.
  const t0 = performance.now()
  t.equal(await c.get(keysB[6]!), `v-${keysB[6]}`)
  t.ok(performance.now() - t0 < 300, 'b marked down: no timeout on the next read')
  b.proxy!.kill('SIGCONT')
  await waitFor(() => c.stats().nodes.every((n) => n.health === 'up'), 10_000, 'b up again after SIGCONT')
})

t.test('a killed owner: reads fail over at once, writes too (nothing was sent); typed errors when no replica is left', async (t) => {
  await a.kill()
  for (const k of keysA.slice(6, 10)) t.equal(await c.get(k), `v-${k}`, 'a\'s key from rack2')
  t.equal(await c.set(keysA[10]!, 'after'), 'OK', 'a write to a\'s range goes to rack2')
  t.equal(await c.get(keysB[7]!), `v-${keysB[7]}`, 'b still serves its own keys')
  await r2.kill()
  const err = (await c.get(keysA[11]!).catch((e: unknown) => e)) as DynoError
  t.equal(err.name, 'DynoError')
  t.ok(['NODE_UNAVAILABLE', 'RETRY_BUDGET_EXHAUSTED'].includes(err.code), `no replica of a's range is left (${err.code})`)
})
