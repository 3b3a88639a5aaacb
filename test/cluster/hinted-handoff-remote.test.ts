// Hinted handoff on the paths beyond a data worker's own links: remote-DC writes batched by the cluster worker (a remote DC frozen,
// then a coordinator restarted with those hints on disk), and memcached nodes; every acknowledged write reaches the replica that missed it.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { storage } from '../helpers/memcached-connection.ts'
import { waitFor } from '../helpers/wait-for.ts'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-rhints-'))
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }))

async function peerMetric(from: ClusterNode, peer: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${from.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite",peer="${peer.peerName.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function getDirect(node: ClusterNode, key: string): Promise<string | null> {
  const r = await node.redis.call('GET', key)
  return r.kind === 'bulk' && r.value !== null ? r.value.toString() : null
}

async function presentOn(node: ClusterNode, prefix: string, n: number): Promise<number> {
  let present = 0
  for (let i = 0; i < n; i++) if ((await getDirect(node, `${prefix}:${i}`)) === `val-${i}`) present++
  return present
}

async function twoDcs(name: string): Promise<{ coordinator: ClusterNode; remote: ClusterNode }> {
  const cluster = await startCluster(t, {
    dcs: [
      { name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }] },
      { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
    ],
    timeoutMs: 1000,
    nodePool: (n) => ({ hints_dir: path.join(root, name, `${n.dc}-${n.rack}-${n.index}`) }),
  })
  await cluster.waitReady()
  return { coordinator: cluster.node('dc1', 'rack1', 0), remote: cluster.node('dc2', 'rack1', 0) }
}

t.test('a frozen remote DC: the cluster worker keeps its batched writes as hints and replays them once it runs again', async (t) => {
  const { coordinator, remote } = await twoDcs('frozen')
  const conn = await coordinator.connect()
  const N = 300
  remote.proxy!.kill('SIGSTOP')
  let acked = 0
  try {
    // Before, while and after the detector marks the frozen node down: sent and timed out, or never sent.
    for (let i = 0; i < N / 2; i++) if ((await conn.call(['SET', `rf:${i}`, `val-${i}`], 5000)).kind === 'simple') acked++
    await waitFor(async () => (await peerMetric(coordinator, remote, 'peer_up')) === 0, 20_000, 'the frozen node is marked down')
    for (let i = N / 2; i < N; i++) if ((await conn.call(['SET', `rf:${i}`, `val-${i}`], 5000)).kind === 'simple') acked++
    t.equal(acked, N, 'every write acknowledged at DC_ONE by the local DC')
    await waitFor(async () => (await peerMetric(coordinator, remote, 'hints_queued')) >= N / 2, 10_000, 'the writes made while it was down are hints')
  } finally {
    remote.proxy!.kill('SIGCONT')
  }
  await waitFor(async () => (await peerMetric(coordinator, remote, 'hints_queued')) === 0, 30_000, 'the hints drain')
  t.ok((await peerMetric(coordinator, remote, 'hints_replayed_total')) >= N / 2, 'replayed')
  t.equal(await presentOn(remote, 'rf', N), N, "every acknowledged write is on the remote DC's redis")
  t.equal(await peerMetric(coordinator, remote, 'hints_dropped_total'), 0)
  conn.destroy()
})

t.test('a coordinator restarted with remote-DC hints on disk replays them once the remote DC is back', async (t) => {
  const { coordinator, remote } = await twoDcs('restart')
  await remote.kill()
  await waitFor(async () => (await peerMetric(coordinator, remote, 'peer_up')) === 0, 20_000, 'remote marked down')
  const conn = await coordinator.connect()
  const N = 100
  for (let i = 0; i < N; i++) await conn.call(['SET', `rr:${i}`, `val-${i}`], 5000)
  conn.destroy()
  await waitFor(async () => (await peerMetric(coordinator, remote, 'hints_queued')) === N, 10_000, 'every write kept by the cluster worker')
  const dir = path.join(root, 'restart', 'dc1-rack1-0')
  await waitFor(() => fs.readdirSync(dir).some((f) => /\.c0\..*\.hints$/.test(f) && fs.statSync(path.join(dir, f)).size > N * 40), 10_000, "the cluster worker's hints file")
  await coordinator.stop()
  await coordinator.start()
  t.equal(await peerMetric(coordinator, remote, 'hints_queued'), N, 'loaded back at start')
  await remote.start()
  await waitFor(async () => (await peerMetric(coordinator, remote, 'hints_queued')) === 0, 30_000, 'the hints drain')
  t.equal(await presentOn(remote, 'rr', N), N, "every write reached the remote DC's redis")
})

t.test('memcached nodes: a replica down while writes go on gets them once it is back', async (t) => {
  const cluster = await startCluster(t, {
    dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }],
    datastore: 'memcached',
  })
  await cluster.waitReady()
  const coordinator = cluster.node('dc1', 'rack1', 0)
  const target = cluster.node('dc1', 'rack2', 0)
  await target.kill()
  await waitFor(async () => (await peerMetric(coordinator, target, 'peer_up')) === 0, 20_000, 'target marked down')
  const conn = await coordinator.mcConnect()
  const N = 100
  let stored = 0
  for (let i = 0; i < N; i++) if ((await conn.call(storage('set', `mh:${i}`, `val-${i}`))).head === 'STORED') stored++
  t.equal(stored, N, 'every set stored at DC_ONE while a replica is down')
  // An answer that is not a failure (NOT_STORED) is not a hint: the add is replayed and answered, never retried forever.
  t.equal((await conn.call(storage('add', 'mh:0', 'other'))).head, 'NOT_STORED')
  t.equal(await peerMetric(coordinator, target, 'hints_queued'), N + 1, 'every replica write kept as a hint')
  await target.start()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  let present = 0
  for (let i = 0; i < N; i++) {
    const r = await target.memcached.call(`get mh:${i}\r\n`)
    if (r.raw.toString('latin1').includes(`\r\nval-${i}\r\n`)) present++
  }
  t.equal(present, N, "every set reached the target's memcached")
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), N + 1, 'each replayed once (the add answered NOT_STORED there)')
})
