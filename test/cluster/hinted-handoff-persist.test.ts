// Hints on disk (hints_dir): a coordinator killed -9 with hints queued replays them after its restart once the target is back;
// a hints file with a corrupt record: the good prefix is replayed, the rest counted and logged, and the node starts.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-hints-'))
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

/** A coordinator (rack1) and a target (rack2), each with its own hints_dir under `root/<name>`. */
async function setup(name: string): Promise<{ coordinator: ClusterNode; target: ClusterNode; dir: string }> {
  const cluster = await startCluster(t, {
    dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] }],
    // Hints alone: a restarted target with an empty redis would otherwise warm up (copy every key) from rack1.
    nodePool: (n) => ({ hints_dir: path.join(root, name, `${n.rack}-${n.index}`), warm_up: false }),
  })
  await cluster.waitReady()
  const coordinator = cluster.node('dc1', 'rack1', 0)
  const target = cluster.node('dc1', 'rack2', 0)
  return { coordinator, target, dir: path.join(root, name, 'rack1-0') }
}

/** Kill the target, write `n` keys through the coordinator, wait until its hints file holds them all, then kill the coordinator. */
async function hintsOnDisk(t: Test, coordinator: ClusterNode, target: ClusterNode, dir: string, prefix: string, n: number): Promise<string> {
  await target.kill()
  await waitFor(async () => (await peerMetric(coordinator, target, 'peer_up')) === 0, 20_000, 'target marked down')
  const conn = await coordinator.connect()
  for (let i = 0; i < n; i++) await conn.call(['SET', `${prefix}:${i}`, `val-${i}`], 5000)
  conn.destroy()
  t.equal(await peerMetric(coordinator, target, 'hints_queued'), n, 'every write queued as a hint')
  let file = ''
  await waitFor(
    () => {
      const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.hints')) : []
      if (names.length !== 1) return false
      file = path.join(dir, names[0]!)
      // header + n records of at least 18 + the request's bytes each
      return fs.statSync(file).size > n * 40
    },
    10_000,
    'the hints file holds every hint',
  )
  await coordinator.kill()
  return file
}

t.test('a coordinator restarted with hints on disk replays them once the target is back', async (t) => {
  const { coordinator, target, dir } = await setup('restart')
  const N = 60
  await hintsOnDisk(t, coordinator, target, dir, 'hp', N)
  await coordinator.start()
  t.equal(await peerMetric(coordinator, target, 'hints_queued'), N, 'the hints are back in memory after the restart')
  await waitFor(() => coordinator.output().includes('hints loaded'), 10_000, 'the load is logged')
  await target.start()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  let present = 0
  for (let i = 0; i < N; i++) if ((await getDirect(target, `hp:${i}`)) === `val-${i}`) present++
  t.equal(present, N, "every hinted key reached the target's redis")
  t.equal(await peerMetric(coordinator, target, 'hints_replayed_total'), N)
  await waitFor(() => fs.readdirSync(dir).filter((f) => f.endsWith('.hints')).length === 0, 10_000, 'the emptied queue leaves no file')
})

t.test('a corrupt record in the hints file: the good prefix is replayed, the rest counted and logged, the node starts', async (t) => {
  const { coordinator, target, dir } = await setup('corrupt')
  const N = 40
  const file = await hintsOnDisk(t, coordinator, target, dir, 'hc', N)
  // Every record here is the same size (same-length keys and values): flip a byte inside record 30's payload.
  const buf = fs.readFileSync(file)
  const recs: number[] = []
  let off = buf.indexOf(Buffer.from('*3\r\n'))
  while (off >= 0) {
    recs.push(off)
    off = buf.indexOf(Buffer.from('*3\r\n'), off + 1)
  }
  t.equal(recs.length, N, 'one record per hint')
  buf[recs[30]! + 10] = buf[recs[30]! + 10]! ^ 0x5a
  fs.writeFileSync(file, buf)
  await coordinator.start()
  t.equal(await peerMetric(coordinator, target, 'hints_queued'), 30, 'the 30 records before the corrupt one are loaded')
  t.equal(await peerMetric(coordinator, target, 'hints_dropped_total'), 1, 'the corrupt tail counted')
  await waitFor(() => coordinator.output().includes('hints file corrupt'), 10_000, 'the corrupt tail is logged')
  t.same(await coordinator.call('SET', 'hc:new', 'fresh'), { kind: 'simple', value: 'OK' }, 'the node serves')
  await target.start()
  await waitFor(async () => (await peerMetric(coordinator, target, 'hints_queued')) === 0, 30_000, 'the hints drain')
  let present = 0
  for (let i = 0; i < 30; i++) if ((await getDirect(target, `hc:${i}`)) === `val-${i}`) present++
  t.equal(present, 30, 'the good prefix reached the target')
  t.equal(await getDirect(target, 'hc:35'), null, 'nothing after the corrupt record')
  t.equal(await getDirect(target, 'hc:new'), 'fresh', 'the write made after the restart, hinted behind the prefix, arrives too')
})
