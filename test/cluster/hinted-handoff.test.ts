// Hinted handoff: replica writes a coordinator could not deliver while another rack's node was down reach that node's redis once
// it is back, in order (the last of 50 SETs of one key wins); the count bound drops the oldest hints and keeps the newest.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { Cluster, ClusterNode } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

/** A per-peer figure of `from`'s /metrics about `peer` (NaN when absent). */
async function peerMetric(from: ClusterNode, peer: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${from.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite",peer="${peer.peerName.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function twoRacks(pool: Record<string, unknown> = {}): Promise<{ cluster: Cluster; coordinator: ClusterNode; target: ClusterNode }> {
  const cluster = await startCluster(t, {
    dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }],
    // Hints alone: a restarted target with an empty redis would otherwise warm up (copy every key) from rack1.
    pool: { warm_up: false, ...pool },
  })
  await cluster.waitReady()
  return { cluster, coordinator: cluster.node('dc1', 'rack1', 0), target: cluster.node('dc1', 'rack2', 0) }
}

/** Kill -9 the target's dynoproxy (its redis stays) and wait until the coordinator's failure detector marks it down. */
async function killAndWaitDown(coordinator: ClusterNode, target: ClusterNode): Promise<void> {
  await target.kill()
  await waitFor(async () => (await peerMetric(coordinator, target, 'peer_up')) === 0, 20_000, 'the coordinator marks the target down')
}

async function getDirect(node: ClusterNode, key: string): Promise<string | null> {
  const r = await node.redis.call('GET', key)
  return r.kind === 'bulk' && r.value !== null ? r.value.toString() : null
}

t.test('writes made while a replica node is down reach it once it is back, in order', async (t) => {
  const { coordinator, target } = await twoRacks()
  await killAndWaitDown(coordinator, target)
  const conn = await coordinator.connect()
  const N = 200
  let acked = 0
  for (let i = 0; i < N; i++) if ((await conn.call(['SET', `hh:${i}`, `val-${i}`], 5000)).kind === 'simple') acked++
  t.equal(acked, N, 'every write acknowledged at DC_ONE while a replica is down')
  for (let v = 1; v <= 50; v++) await conn.call(['SET', 'hh:last', `v${v}`], 5000)
  t.equal(await getDirect(target, 'hh:0'), null, 'nothing reached the target while it was down')
  const queued = await peerMetric(coordinator, target, 'hints_queued')
  t.equal(queued, N + 50, 'every replica write is queued as a hint for the target')
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), 0)

  await target.start()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  let present = 0
  for (let i = 0; i < N; i++) if ((await getDirect(target, `hh:${i}`)) === `val-${i}`) present++
  t.equal(present, N, "every key reached the target's redis")
  t.equal(await getDirect(target, 'hh:last'), 'v50', 'the last SET wins on the target')
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), N + 50, 'each hint replayed once')
  t.equal(await peerMetric(coordinator, target, 'hints_dropped_total'), 0)

  // With its hints gone, new writes go straight to the target again.
  t.same(await conn.call(['SET', 'hh:after', 'x'], 5000), { kind: 'simple', value: 'OK' })
  await waitFor(async () => (await getDirect(target, 'hh:after')) === 'x', 10_000, 'a new write reaches the target')
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), N + 50, 'not as a hint')
})

t.test('past max_hints the oldest hints are dropped and counted, the newest kept', async (t) => {
  const { coordinator, target } = await twoRacks({ max_hints: 10 })
  await killAndWaitDown(coordinator, target)
  const conn = await coordinator.connect()
  for (let i = 0; i < 30; i++) await conn.call(['SET', `hb:${i}`, `val-${i}`], 5000)
  t.equal(await peerMetric(coordinator, target, 'hints_queued'), 10, 'the bound holds')
  t.equal(await peerMetric(coordinator, target, 'hints_dropped_total'), 20, 'every drop counted')
  await waitFor(() => coordinator.output().includes('hints dropped'), 15_000, 'the drop is logged')

  await target.start()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  for (let i = 20; i < 30; i++) t.equal(await getDirect(target, `hb:${i}`), `val-${i}`, `newest hb:${i} delivered`)
  t.equal(await getDirect(target, 'hb:0'), null, 'the oldest was dropped')
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), 10)
})

t.test('a replica whose datastore is down answers "not stored": those writes become hints and arrive once it is back', async (t) => {
  // The target's redis connection is tried again within half a second once the server is back (Dynomite's default backoff cap,
  // 10 s, reached by the refused writes' failures, would only delay the replay).
  const { coordinator, target } = await twoRacks({ server_retry_timeout: 500 })
  await target.stopRedis()
  await waitFor(async () => (await peerMetric(coordinator, target, 'peer_datastore_up')) === 0, 20_000, 'the target reports its datastore down')
  t.equal(await peerMetric(coordinator, target, 'peer_up'), 1, 'the node itself is up: writes are sent to it')
  const conn = await coordinator.connect()
  for (let i = 0; i < 20; i++) await conn.call(['SET', `hs:${i}`, `val-${i}`], 5000)
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 20, 10_000, 'each refused write kept as a hint')
  await target.restartRedis()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  let present = 0
  for (let i = 0; i < 20; i++) if ((await getDirect(target, `hs:${i}`)) === `val-${i}`) present++
  t.equal(present, 20, "every refused write reached the target's new redis")
})

t.test('a replica write that timed out is not hinted (it may have applied): counted only', async (t) => {
  const { coordinator, target } = await twoRacks({ timeout: 500 })
  // Timed out, or failed with its link (the detector may close a silent link first): both after sending, both ambiguous.
  const failures = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${coordinator.statsPort}/metrics`)).text()
    const peer = target.peerName.replace(/\./g, '\\.')
    let n = 0
    for (const code of ['DYN_ERR_TIMEOUT', 'DYN_ERR_CONNECTION']) {
      const m = new RegExp(`^dynoproxy_replica_write_failures_total\\{pool="dyn_o_mite",peer="${peer}",code="${code}"\\} (\\S+)$`, 'm').exec(text)
      if (m !== null) n += Number(m[1])
    }
    if (n === 0) t.comment(text.split('\n').filter((l) => l.startsWith('dynoproxy_replica_write_failures_total') && !l.endsWith(' 0')).join('\n'))
    return n
  }
  target.proxy!.kill('SIGSTOP')
  try {
    t.same(await coordinator.call('INCR', 'ht:counter'), { kind: 'integer', value: 1n })
    await waitFor(async () => (await failures()) >= 1, 10_000, 'the replica write times out (or fails with its link)')
    t.equal(await peerMetric(coordinator, target, 'hints_queued'), 0, 'no hint for a write that may have applied')
  } finally {
    target.proxy!.kill('SIGCONT')
  }
  // The stopped node still had the INCR in its socket: it applies it once running, which is why it must not be replayed.
  await waitFor(async () => (await getDirect(target, 'ht:counter')) === '1', 10_000, 'the timed-out write applied on the target')
  await waitFor(async () => (await peerMetric(coordinator, target, 'peer_up')) === 1, 20_000, 'the target is up')
  t.equal(await getDirect(target, 'ht:counter'), '1', 'applied once, never twice')
})
