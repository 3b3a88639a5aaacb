// Read repair (read_repairs_enabled, quorum reads) on a 3-rack cluster of real processes: a replica whose value differs from the
// majority's — changed, lost, or left behind by a delete — is rewritten with the majority's value and TTL after a quorum read of the key.
// Reads are DC_SAFE_QUORUM so that the client's answer is the majority's: DC_QUORUM answers with the first of any two replies (as
// Dynomite does), which is the straggler's whenever it answers first (seen under load).

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] }],
  consistency: { read: 'DC_SAFE_QUORUM', write: 'DC_ONE' },
  pool: { read_repairs_enabled: true },
})
const [r1, r2, r3] = ['rack1', 'rack2', 'rack3'].map((r) => cluster.rackNodes('dc1', r)[0]!) as [ClusterNode, ClusterNode, ClusterNode]

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="[^"]*"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function everywhere(key: string, value: string): Promise<void> {
  for (const n of [r1, r2, r3]) await waitFor(async () => plain(await n.redis.call('GET', key)) === value, 10_000, `${key}=${value} on ${n.name}`)
}

t.test('a changed replica is rewritten with the majority value after a quorum read', async (t) => {
  t.same(plain(await r1.call('SET', 'rr:a', 'good')), { ok: 'OK' })
  await everywhere('rr:a', 'good')
  await r3.redis.call('SET', 'rr:a', 'bad')
  t.equal(plain(await r1.call('GET', 'rr:a')), 'good', 'the majority answers')
  await waitFor(async () => plain(await r3.redis.call('GET', 'rr:a')) === 'good', 10_000, 'rack3 repaired')
  t.ok((await metric(r1, 'read_repairs_total')) >= 1, 'counted')
  t.ok((await metric(r1, 'read_repair_mismatches_total')) >= 1)
})

t.test('a lost key comes back with its TTL; a key deleted on the majority is deleted on the straggler', async (t) => {
  await r1.call('SET', 'rr:ttl', 'v', 'EX', '1000')
  await everywhere('rr:ttl', 'v')
  await r2.redis.call('DEL', 'rr:ttl')
  t.equal(plain(await r3.call('GET', 'rr:ttl')), 'v')
  await waitFor(async () => plain(await r2.redis.call('GET', 'rr:ttl')) === 'v', 10_000, 'rack2 has it again')
  const ttl = plain(await r2.redis.call('PTTL', 'rr:ttl')) as number
  t.ok(ttl > 900_000 && ttl <= 1_000_000, `TTL restored (${ttl} ms)`)

  await r1.call('SET', 'rr:gone', 'v')
  await everywhere('rr:gone', 'v')
  await r1.redis.call('DEL', 'rr:gone')
  await r2.redis.call('DEL', 'rr:gone')
  t.equal(plain(await r2.call('GET', 'rr:gone')), null)
  await waitFor(async () => plain(await r3.redis.call('EXISTS', 'rr:gone')) === 0, 10_000, 'rack3 deleted it')
})

t.test('replies that agree repair nothing', async (t) => {
  const before = await metric(r1, 'read_repair_mismatches_total')
  await r1.call('SET', 'rr:same', 'x')
  await everywhere('rr:same', 'x')
  for (let i = 0; i < 20; i++) t.equal(plain(await r1.call('GET', 'rr:same')), 'x')
  t.equal(await metric(r1, 'read_repair_mismatches_total'), before, 'no mismatch counted')
})
