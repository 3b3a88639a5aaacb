// Anti-entropy repair (POST /repair): racks made to diverge by writing to their redis-servers directly (an extra key, a missing one, a
// different value, a TTL, a key two racks of three hold, a three-way conflict) end holding the majority's data; a range repair touches
// only its range; a repair while writes run loses no acknowledged write; bad requests are refused. Checked on the redis-servers themselves.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { keyHash } from '../helpers/cluster-ring.ts'

const KEYS = 300
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] }],
  // No warm-up: a rack is emptied on purpose by no test here, and a copy must not be mistaken for a repair.
  pool: { warm_up: false, warm_up_batch: 50, warm_up_pause: 2, peer_secret: 'repair-secret' },
})
const rack1 = cluster.node('dc1', 'rack1', 0)
const rack2 = cluster.node('dc1', 'rack2', 0)
const rack3 = cluster.node('dc1', 'rack3', 0)
const racks = [rack1, rack2, rack3]

const key = (i: number): string => `rp:${i}`
const value = (i: number): string => `value-${i}`

type RepairInfo = {
  phase: string; running: boolean; runs: number; range: string; racks: string[]; racksSkipped: string[]; keysCompared: number
  keysDiffering: number; keysRepaired: number; conflicts: number; keysSkipped: number; bytes: number; lastError: string
}

async function repairStatus(node: ClusterNode): Promise<RepairInfo> {
  return (await (await fetch(`http://127.0.0.1:${node.statsPort}/repair`)).json()) as RepairInfo
}

async function postRepair(node: ClusterNode, query = ''): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${node.statsPort}/repair${query}`, { method: 'POST' })
  return { status: r.status, text: (await r.text()).trim() }
}

/** Start a run and wait for its end; its figures. */
async function repair(node: ClusterNode, query = ''): Promise<RepairInfo> {
  const runs = (await repairStatus(node)).runs
  const r = await postRepair(node, query)
  if (r.status !== 200) throw new Error(`POST /repair${query}: ${r.status} ${r.text}`)
  await waitFor(async () => {
    const s = await repairStatus(node)
    return s.runs === runs + 1 && !s.running
  }, 60_000, 'the repair done')
  return repairStatus(node)
}

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function get(node: ClusterNode, k: string): Promise<unknown> {
  return plain(await node.redis.call('GET', k))
}

async function dbsize(node: ClusterNode): Promise<number> {
  return Number(plain(await node.redis.call('DBSIZE')))
}

t.test('setup: keys written through rack1 reach every rack; a repair of racks that agree finds nothing to do', async (t) => {
  const conn = await rack1.connect()
  const replies = await conn.pipeline(Array.from({ length: KEYS }, (_, i) => ['SET', key(i), value(i)]), 30_000)
  t.ok(replies.every((r) => (plain(r) as { ok?: string }).ok === 'OK'), 'every key stored')
  for (const n of racks) await waitFor(async () => (await dbsize(n)) === KEYS, 30_000, `${n.name} holds every key`)
  const before = await repairStatus(rack1)
  t.equal(before.runs, 0, 'GET /repair before any run')
  const r = await repair(rack1)
  t.equal(r.phase, 'done', `done (${r.lastError})`)
  t.same(r.racks.length, 3, 'three racks compared')
  t.equal(r.keysCompared, KEYS, 'every key compared')
  t.equal(r.keysDiffering, 0, 'none differs')
  t.equal(r.keysRepaired, 0, 'none repaired')
})

t.test('racks diverge on their redis-servers; a repair leaves every rack with the majority\'s data', async (t) => {
  await rack2.redis.call('SET', 'rp:extra', 'only-on-rack2') // majority: absent -> deleted on rack2
  await rack3.redis.call('DEL', key(1)) // missing on rack3 -> copied back
  await rack1.redis.call('SET', key(2), 'rogue') // a different value on rack1 -> the majority's value
  await rack2.redis.call('PEXPIRE', key(3), 600_000) // a TTL only rack2 has -> none, as the majority
  await rack1.redis.call('SET', 'rp:two', 'two-racks') // on two racks of three -> copied to the third
  await rack2.redis.call('SET', 'rp:two', 'two-racks')
  for (const [i, n] of racks.entries()) await n.redis.call('SET', key(4), `conflict-${i}`) // three values: a conflict, left alone
  await rack3.redis.call('SET', key(5), value(5), 'PX', '900000') // a TTL on one rack, the others have none -> removed
  const r = await repair(rack2)
  t.equal(r.phase, 'done', `done (${r.lastError})`)
  t.equal(r.keysCompared, KEYS + 2, 'every key compared (rp:extra and rp:two included)')
  t.equal(r.keysDiffering, 7, 'seven keys differed')
  t.equal(r.keysRepaired, 6, 'six repaired')
  t.equal(r.conflicts, 1, 'one conflict')
  t.equal(r.keysSkipped, 0, 'none skipped (nothing was being written)')
  t.ok(r.bytes > 0, `${r.bytes} bytes exchanged`)
  for (const n of racks) {
    t.equal(await get(n, 'rp:extra'), null, `${n.name}: the extra key is gone`)
    t.equal(await get(n, key(1)), value(1), `${n.name}: the missing key is back`)
    t.equal(await get(n, key(2)), value(2), `${n.name}: the majority's value`)
    t.equal(Number(plain(await n.redis.call('PTTL', key(3)))), -1, `${n.name}: no TTL on ${key(3)}`)
    t.equal(Number(plain(await n.redis.call('PTTL', key(5)))), -1, `${n.name}: no TTL on ${key(5)}`)
    t.equal(await get(n, 'rp:two'), 'two-racks', `${n.name}: the key two racks held`)
    t.equal(await dbsize(n), KEYS + 1, `${n.name}: ${KEYS + 1} keys`)
  }
  for (const [i, n] of racks.entries()) t.equal(await get(n, key(4)), `conflict-${i}`, `${n.name}: the conflict left as it was`)
  t.equal(await metric(rack2, 'repair_keys_repaired_total'), 6, 'repair_keys_repaired_total in /metrics')
  t.equal(await metric(rack2, 'repair_conflicts_total'), 1, 'repair_conflicts_total in /metrics')
  t.equal(await metric(rack2, 'repair_keys_compared_total'), KEYS + 2, 'repair_keys_compared_total (this node\'s runs: one)')
  t.equal(await metric(rack2, 'repair_runs_total'), 1, 'repair_runs_total')
  const info = (await (await fetch(`http://127.0.0.1:${rack2.statsPort}/info`)).json()) as { repair: { keys_repaired: number; phase: string } }
  t.same({ phase: info.repair.phase, repaired: info.repair.keys_repaired }, { phase: 'done', repaired: 6 }, '/info shows the run')
  const again = await repair(rack3)
  t.same([again.keysDiffering, again.keysRepaired, again.conflicts], [1, 0, 1], 'a second repair (from rack3) finds only the conflict')
  for (const n of racks) await n.redis.call('SET', key(4), value(4))
})

t.test('a range repair touches only its range', async (t) => {
  // Two keys far apart on the ring; the range holds the first one's hash only.
  const ids = Array.from({ length: KEYS }, (_, i) => i).filter((i) => i > 5).sort((a, b) => keyHash(key(a)) - keyHash(key(b)))
  const low = ids[0]!
  const high = ids[ids.length - 1]!
  await rack3.redis.call('DEL', key(low))
  await rack3.redis.call('DEL', key(high))
  const h = keyHash(key(low))
  const r = await repair(rack1, `?start=${Math.max(0, h - 10)}&end=${h + 10}`)
  t.equal(r.phase, 'done', `done (${r.lastError})`)
  t.equal(r.range, `${Math.max(0, h - 10)}-${h + 10}`, 'the range is reported')
  t.equal(r.keysRepaired, 1, 'one key repaired')
  t.ok(r.keysCompared >= 1 && r.keysCompared < 10, `only the range's keys compared (${r.keysCompared})`)
  t.equal(await get(rack3, key(low)), value(low), 'the key in the range is back')
  t.equal(await get(rack3, key(high)), null, 'the key outside it is still missing')
  // A range that wraps past 2^32-1 covers the high key.
  const hh = keyHash(key(high))
  const w = await repair(rack1, `?start=${hh}&end=5`)
  t.equal(w.keysRepaired, 1, 'a wrapping range repaired the other')
  t.equal(await get(rack3, key(high)), value(high), 'the key outside the first range is back')
})

t.test('bad requests: an invalid token or parameter is a 400, a second POST while one runs a 409', async (t) => {
  for (const q of ['?start=abc&end=10', '?start=1&end=4294967296', '?start=10', '?begin=1&end=2', '?start=-1&end=5']) {
    const r = await postRepair(rack1, q)
    t.equal(r.status, 400, `POST /repair${q}: 400 (${r.text})`)
    t.match(r.text, /^ERR /, 'with a message')
  }
  const get = await fetch(`http://127.0.0.1:${rack1.statsPort}/repair`)
  t.equal(get.status, 200, 'GET /repair only reads')
  const runs = (await repairStatus(rack1)).runs
  const first = await postRepair(rack1)
  t.equal(first.status, 200, 'a run started')
  const second = await postRepair(rack1)
  t.equal(second.status, 409, 'a second POST while it runs is refused')
  t.match(second.text, /already running/, 'and says why')
  await waitFor(async () => !(await repairStatus(rack1)).running, 60_000, 'the run done')
  t.equal((await repairStatus(rack1)).runs, runs + 1, 'one run only')
})

t.test('a repair while writes run loses no acknowledged write', async (t) => {
  // Writers overwrite a small set of keys through every rack while rack3 repairs; every acknowledged value must end on every rack.
  // Each key is always written through the same node, so replication keeps its writes in order (DC_ONE replicates asynchronously).
  const W = 60
  const last = new Map<string, string>()
  const conns = await Promise.all(racks.map((n) => n.connect()))
  let stop = false
  let acked = 0
  let round = 0
  const writer = (async (): Promise<void> => {
    while (!stop && round < 5000) {
      const c = conns[round % 3]!
      const batch = Array.from({ length: 20 }, (_, j) => [`wr:${((round * 7 + j) % (W / 3)) * 3 + (round % 3)}`, `v${round}-${j}`] as const)
      round++
      const replies = await c.pipeline(batch.map(([k, v]) => ['SET', k, v]), 10_000)
      replies.forEach((r, j) => {
        if ((plain(r) as { ok?: string }).ok === 'OK') {
          last.set(batch[j]![0], batch[j]![1])
          acked++
        }
      })
    }
  })()
  // Divergence for the repair to work on while the writes go on.
  for (let i = 10; i < 20; i++) await rack1.redis.call('DEL', key(i))
  const r = await repair(rack3)
  stop = true
  await writer
  t.equal(r.phase, 'done', `done (${r.lastError})`)
  t.ok(acked > 100, `${acked} writes acknowledged during the run`)
  t.ok(r.keysRepaired >= 10, `the deleted keys repaired (${r.keysRepaired}; ${r.keysSkipped} skipped as in flight)`)
  for (const n of racks) {
    await waitFor(async () => {
      for (const [k, v] of last) if ((await get(n, k)) !== v) return false
      return true
    }, 20_000, `${n.name} holds every acknowledged write`)
    for (let i = 10; i < 20; i++) t.equal(await get(n, key(i)), value(i), `${n.name}: ${key(i)}`)
  }
  t.pass(`${last.size} keys hold their last acknowledged value on every rack`)
})
