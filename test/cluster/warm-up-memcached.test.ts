// Warm-up of a memcached node: a rack whose memcached restarts empty copies its range back from a peer rack by itself (lru_crawler
// metadump + mg there, ms in add mode here), values, flags and TTLs kept, a write made during the copy kept, reads through it never a
// miss for a key that exists. Checked on the memcached servers themselves.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { storage } from '../helpers/memcached-connection.ts'
import { waitFor } from '../helpers/wait-for.ts'

const KEYS = 3000
const cluster = await startCluster(t, {
  datastore: 'memcached',
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] }],
  // Small steps with a pause: the copy takes a few seconds, long enough to write and read through the node meanwhile.
  pool: { warm_up_batch: 25, warm_up_pause: 10 },
})
const rack1 = cluster.node('dc1', 'rack1', 0)
const rack2 = cluster.node('dc1', 'rack2', 0)

const key = (i: number): string => `mwu:${i}`
const value = (i: number): string => `value-${i}`
const flags = (i: number): number => i % 7
const hasTtl = (i: number): boolean => i % 10 === 0

type WarmUpInfo = { phase: string; runs: number; keys_copied: number; keys_skipped: number; reason: string; sources: string; last_error: string }

async function warmUp(node: ClusterNode): Promise<WarmUpInfo> {
  return ((await (await fetch(`http://127.0.0.1:${node.statsPort}/info`)).json()) as { warm_up: WarmUpInfo }).warm_up
}

async function items(node: ClusterNode): Promise<number> {
  const r = await node.memcached.call('stats\r\n')
  return Number(/STAT curr_items (\d+)/.exec(r.raw.toString('latin1'))?.[1] ?? -1)
}

/** The item on the node's memcached itself: value, flags and TTL left (mg v f t), or null. */
async function item(node: ClusterNode, k: string): Promise<{ value: string; flags: number; ttl: number } | null> {
  const r = await node.memcached.call(`mg ${k} v f t\r\n`)
  const m = /^VA \d+ (.*)$/.exec(r.head)
  if (m === null) return null
  const body = r.raw.toString('latin1')
  const data = body.slice(body.indexOf('\r\n') + 2, body.length - 2)
  return { value: data, flags: Number(/f(\d+)/.exec(m[1]!)?.[1]), ttl: Number(/t(-?\d+)/.exec(m[1]!)?.[1]) }
}

t.test('setup: keys with flags (every tenth with a TTL) written through rack1 reach every rack', async (t) => {
  const conn = await rack1.mcConnect()
  for (let i = 0; i < KEYS; i++) conn.write(storage('set', key(i), value(i), { flags: flags(i), exptime: hasTtl(i) ? 600 : 0 }))
  const replies = await conn.read(KEYS, 30_000)
  t.ok(replies.every((r) => r.head === 'STORED'), 'every key stored')
  for (const n of cluster.nodes) await waitFor(async () => (await items(n)) === KEYS, 30_000, `${n.name} holds every key`)
  t.equal((await warmUp(rack2)).runs, 0, 'no warm-up while every rack holds its keys')
})

t.test('rack2\'s memcached restarts empty: it warms up by itself, values, flags and TTLs kept, a write during the copy kept', async (t) => {
  await rack2.restartRedis()
  await waitFor(async () => (await warmUp(rack2)).phase === 'writes_only' && (await warmUp(rack2)).sources !== '', 20_000, 'rack2 copying (writes_only)')
  t.match((await warmUp(rack2)).reason, /empty datastore|datastore restarted/, 'started by itself')
  const during = KEYS - 1
  t.equal((await rack2.mc(storage('set', key(during), 'written-during-warm-up', { flags: 99 }))).head, 'STORED', 'a write through rack2 while it copies')
  let reads = 0
  let misses = 0
  const conn = await rack2.mcConnect()
  for (let round = 0; round < 200 && (await warmUp(rack2)).phase === 'writes_only'; round++) {
    const ids = Array.from({ length: 20 }, (_, j) => (round * 131 + j * 17) % (KEYS - 1))
    for (const i of ids) conn.write(`get ${key(i)}\r\n`)
    for (const r of await conn.read(ids.length, 10_000)) {
      reads++
      if (r.head === 'END') misses++
    }
  }
  t.ok(reads >= 20, `${reads} reads through rack2 while it copied`)
  t.equal(misses, 0, 'no read of an existing key missed')
  await waitFor(async () => (await warmUp(rack2)).phase === 'idle', 60_000, 'the warm-up done')
  const done = await warmUp(rack2)
  t.equal(done.last_error, '', 'no error')
  t.ok(done.keys_copied >= KEYS - 2, `${done.keys_copied} keys copied, ${done.keys_skipped} skipped`)
  t.equal(await items(rack2), KEYS, 'rack2 holds every key again')
  t.same(await item(rack2, key(during)), { value: 'written-during-warm-up', flags: 99, ttl: -1 }, 'the write made during the copy was not overwritten')
  for (let i = 0; i < KEYS - 1; i += 97) {
    const it = await item(rack2, key(i))
    t.ok(it !== null, `${key(i)} copied`)
    t.same({ value: it?.value, flags: it?.flags }, { value: value(i), flags: flags(i) }, `${key(i)}: value and flags`)
    if (hasTtl(i)) t.ok(it!.ttl > 500 && it!.ttl <= 600, `${key(i)} keeps its TTL (${it!.ttl} s)`)
    else t.equal(it!.ttl, -1, `${key(i)} has none`)
  }
})
