// Token moves of a memcached pool on real processes: a second node joins a rack of one and copies its future range from node 0
// (dynoproxy_range there, ms in add mode here), then leaves again and hands its keys back (its own dynoproxy_range, ms in add mode on
// node 0 through the peer link). Checked on the memcached servers themselves: values, flags and TTLs kept, writes made during a copy
// kept, a stale copy node 0 still held of a key rewritten since replaced.

import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import type { McReply } from '../helpers/memcached-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const GRACE = 3000
const KEYS = 2000
const cluster = await startCluster(t, {
  datastore: 'memcached',
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  // Node 0 runs alone first; node 1 joins it later, knowing node 0 as its one seed. Small steps with a pause: each copy takes seconds,
  // long enough to write during it.
  seeds: (_n, i) => (i === 0 ? [] : [0]),
  deferStart: [1],
  pool: { handoff_grace: GRACE, warm_up_batch: 10, warm_up_pause: 20 },
  nodePool: ({ index }) => (index === 1 ? { join: true } : {}),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]

const key = (i: number): string => `mmv:${i}`
const flags = (i: number): number => i % 7
const hasTtl = (i: number): boolean => i % 10 === 0

interface Info {
  gossip?: { join: string }
  warm_up?: { phase: string; keys_copied: number; keys_skipped: number; keys_failed: number; last_error: string; sources: string }
}
async function info(n: ClusterNode): Promise<Info> {
  return (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as Info
}
async function states(n: ClusterNode): Promise<Record<string, string>> {
  const d = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { name: string; node_state: string }[] }[] }[] }
  return Object.fromEntries(d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => [s.name, s.node_state]))))
}

type Item = { value: string; flags: number; ttl: number }

/** Whether `n` describes some node as settling (a move's handoff_grace not yet past). */
async function settling(n: ClusterNode): Promise<boolean> {
  const d = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { settling?: boolean }[] }[] }[] }
  return d.dcs.some((x) => x.racks.some((r) => r.servers.some((s) => s.settling === true)))
}

/** The item on the node's memcached itself: value, flags and TTL left (mg v f t), or null. */
async function item(n: ClusterNode, k: string): Promise<Item | null> {
  return itemOf(await n.memcached.call(`mg ${k} v f t\r\n`))
}

/** item() of each key, the mg requests pipelined 500 at a time on one connection to the node's memcached (in the keys' order). */
async function items(n: ClusterNode, keys: readonly string[]): Promise<(Item | null)[]> {
  const conn = await McConnection.connect(n.memcached.port)
  try {
    const out: (Item | null)[] = []
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500)
      conn.write(chunk.map((k) => `mg ${k} v f t\r\n`).join(''))
      out.push(...(await conn.read(chunk.length, 30_000)).map(itemOf))
    }
    return out
  } finally {
    conn.destroy()
  }
}

function itemOf(r: McReply): Item | null {
  const m = /^VA \d+ (.*)$/.exec(r.head)
  if (m === null) return null
  const body = r.raw.toString('latin1')
  const data = body.slice(body.indexOf('\r\n') + 2, body.length - 2)
  return { value: data, flags: Number(/f(\d+)/.exec(m[1]!)?.[1]), ttl: Number(/t(-?\d+)/.exec(m[1]!)?.[1]) }
}

/** What each key should hold: value, flags, and the TTL it was set with (0: none). */
const expected = new Map<string, { value: string; flags: number; exptime: number }>()

async function write(n: ClusterNode, k: string, value: string, f: number, exptime: number): Promise<boolean> {
  const r = await n.mc(storage('set', k, value, { flags: f, exptime }))
  if (r.head !== 'STORED') return false
  expected.set(k, { value, flags: f, exptime })
  return true
}

/** Every key of `keys` on `n`'s memcached as expected; the mismatches (a few described). */
async function check(n: ClusterNode, keys: readonly string[], other?: ClusterNode): Promise<{ bad: number; samples: string[] }> {
  let bad = 0
  const samples: string[] = []
  const found = await items(n, keys)
  for (const [i, k] of keys.entries()) {
    const want = expected.get(k)!
    const got = found[i] ?? null
    // A TTL set as 600 s has between 500 and 600 left; none is -1.
    const ttlOk = got !== null && (want.exptime === 0 ? got.ttl === -1 : got.ttl > want.exptime - 100 && got.ttl <= want.exptime)
    if (got !== null && got.value === want.value && got.flags === want.flags && ttlOk) continue
    bad++
    if (samples.length < 5) samples.push(`${k}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}${other === undefined ? '' : ` (${other.name}: ${JSON.stringify(await item(other, k))})`}`)
  }
  return { bad, samples }
}

t.test('setup: keys with flags (every tenth with a TTL) on node 0, alone in its rack', async (t) => {
  const conn = await n0.mcConnect()
  for (let i = 0; i < KEYS; i++) {
    conn.write(storage('set', key(i), `value-${i}`, { flags: flags(i), exptime: hasTtl(i) ? 600 : 0 }))
    expected.set(key(i), { value: `value-${i}`, flags: flags(i), exptime: hasTtl(i) ? 600 : 0 })
  }
  const replies = await conn.read(KEYS, 30_000)
  t.ok(replies.every((r) => r.head === 'STORED'), 'every key stored')
})

const mine: string[] = []

t.test('node 1 joins: every key it owns is copied to its memcached, values, flags and TTLs kept, writes made during the copy kept', async (t) => {
  await n1.start()
  await waitFor(async () => (await info(n1)).warm_up?.phase === 'joining', 30_000, 'node 1 copying (phase joining)').catch((err: Error) => {
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  for (let i = 0; i < KEYS; i++) if (cluster.ownerOf(key(i), 'dc1', 'rack1') === n1) mine.push(key(i))
  t.ok(mine.length > KEYS / 10 && mine.length < KEYS, `node 1 takes ${mine.length} of ${KEYS} keys`)
  // Overwrites (new value, flags and TTL) and new keys of node 1's range through node 0 while node 1 copies: node 1 gets them as
  // shadow writes; the copy must not put the old value back.
  let during = 0
  for (let round = 0; round < 100 && (await info(n1)).warm_up?.phase === 'joining'; round++) {
    for (let j = 0; j < 5; j++) {
      const k = mine[(round * 37 + j * 101) % mine.length]!
      if (await write(n0, k, `during-join-${round}-${j}`, 77, round % 2 === 0 ? 300 : 0)) during++
    }
    const fresh = cluster.keysOwnedBy(n1, `mmv-join-new-${round}`)[0]!
    if (await write(n0, fresh, `new-during-join-${round}`, 5, 0)) {
      mine.push(fresh)
      during++
    }
  }
  t.ok(during >= 6, `${during} writes made while node 1 copied`)
  await waitFor(async () => (await info(n1)).gossip?.join === 'done', 60_000, 'node 1 to finish joining')
  await waitFor(async () => Object.values(await states(n0)).every((s) => s === 'normal'), 20_000, 'node 0 to see node 1 normal')
  const w = (await info(n1)).warm_up!
  t.equal(w.last_error, '', 'no copy error')
  t.equal(w.keys_failed, 0, 'no key failed')
  t.ok(w.keys_copied > mine.length / 2, `${w.keys_copied} keys copied, ${w.keys_skipped} kept (written first by a shadow write)`)
  const r = await check(n1, mine)
  t.equal(r.bad, 0, `all ${mine.length} keys node 1 owns are on its memcached as written ${r.samples.join('; ')}`)
  // Reads through either node find them.
  for (const k of mine.slice(0, 200)) t.equal((await n1.mc(`get ${k}\r\n`)).head.startsWith('VALUE'), true, `${k} read through node 1`)
})

const after: string[] = []

t.test('node 1 leaves: every key is back on node 0\'s memcached, stale copies there replaced, writes made during the hand-over kept', async (t) => {
  // Past the grace, writes of node 1's range reach node 1 only: node 0's copies of rewritten keys go stale, new keys are not on it.
  // The grace is past once neither node describes a node as settling (the move's shadow ring is gone from both views).
  await waitFor(async () => !(await settling(n0)) && !(await settling(n1)), GRACE + 20_000, 'the join to settle on both nodes (handoff_grace past)')
  for (let j = 0; j < 100; j++) {
    const k = mine[(j * 13) % mine.length]!
    t.ok(await write(n0, k, `after-join-${j}`, 88, j % 3 === 0 ? 400 : 0), `${k} rewritten`)
  }
  for (let j = 0; j < 200; j++) {
    const k = cluster.keysOwnedBy(n1, `mmv-after-${j}`)[0]!
    t.ok(await write(n0, k, `after-${j}`, j % 5, j % 4 === 0 ? 500 : 0), `${k} written`)
    after.push(k)
  }
  t.equal(await item(n0, after[0]!), null, 'a key written after the grace is on node 1 only')
  const rewritten = mine[0]!
  t.not((await item(n0, rewritten))?.value, expected.get(rewritten)!.value, 'node 0 holds a stale copy of a rewritten key')

  const res = await fetch(`http://127.0.0.1:${n1.statsPort}/state/leaving`, { method: 'POST' })
  t.equal(res.status, 200, await res.text())
  // Writes while node 1 hands over: node 1 still owns the range, node 0 gets them as shadow writes; the hand-over must keep them.
  await waitFor(async () => (await info(n1)).warm_up?.phase === 'leaving', 20_000, 'node 1 leaving')
  await waitFor(async () => (await states(n0))[n1.peerName] === 'leaving', 20_000, 'node 0 to see node 1 leaving')
  let during = 0
  for (let round = 0; round < 100 && (await info(n1)).warm_up?.phase === 'leaving' && (await states(n0))[n1.peerName] === 'leaving'; round++) {
    const k = after[(round * 7) % after.length]!
    if (await write(n0, k, `during-leave-${round}`, 66, 0)) during++
  }
  t.ok(during >= 5, `${during} writes made while node 1 handed over`)
  await waitFor(async () => (await states(n0))[n1.peerName] === 'left', 60_000, 'node 0 to see node 1 left').catch((err: Error) => {
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  const w = (await info(n1)).warm_up!
  t.equal(w.last_error, '', 'no hand-over error')
  t.equal(w.keys_failed, 0, 'no key failed')
  t.ok(w.keys_copied >= after.length, `${w.keys_copied} keys handed over, ${w.keys_skipped} kept on node 0`)
  const all = [...expected.keys()]
  const r = await check(n0, all, n1)
  if (r.bad > 0) {
    for (const n of [n0, n1]) {
      const text = await (await fetch(`http://127.0.0.1:${n.statsPort}/metrics`)).text()
      t.comment(`${n.name}: ${text.split('\n').filter((l) => /hint|replica_write_failures/.test(l) && !l.startsWith('#') && !/ 0$/.test(l)).join(' | ')}`)
    }
  }
  t.equal(r.bad, 0, `all ${all.length} keys are on node 0's memcached as last written ${r.samples.join('; ')}`)
})

t.test('node 1 joins again: what its memcached kept from before it left is cleared first, not kept by the add-mode copy', async (t) => {
  await n1.stop()
  // Node 1's memcached still holds its old items; these keys of its range get new values meanwhile (on node 0 only).
  const rewritten = mine.slice(0, 50)
  for (const [j, k] of rewritten.entries()) t.ok(await write(n0, k, `after-leave-${j}`, 99, 0), `${k} rewritten`)
  let old = 0
  for (const k of rewritten) {
    const v = (await item(n1, k))?.value
    if (v !== undefined && v !== expected.get(k)!.value) old++
  }
  t.equal(old, rewritten.length, 'node 1\'s memcached holds their old values')
  await n1.start()
  await waitFor(async () => (await info(n1)).gossip?.join === 'done', 60_000, 'node 1 to join again').catch((err: Error) => {
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  t.match(n1.output(), /deleted stale keys of the future range/, 'node 1 cleared its stale items first')
  const r = await check(n1, rewritten)
  t.equal(r.bad, 0, `the ${rewritten.length} keys rewritten while node 1 was away hold their new values on its memcached ${r.samples.join('; ')}`)
  const all = await check(n1, mine)
  t.equal(all.bad, 0, `and all ${mine.length} keys of its range ${all.samples.join('; ')}`)
})
