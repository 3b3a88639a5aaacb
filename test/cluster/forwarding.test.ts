// Forwarded vs owned keys: a node serves what it owns from its own datastore and forwards the rest to the owner in its rack.
// It must never infer where a request went from the reply alone: values are planted in, and read back from, the redis-servers directly.

import t from 'tap'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

// Two data workers per node: a forwarded request and its reply may cross connections accepted by different workers.
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 3 }, { name: 'rack2', nodes: 1 }] }],
  workers: 2,
})
const rack1 = cluster.rackNodes('dc1', 'rack1')
const rack2 = cluster.node('dc1', 'rack2', 0)

/** What a node's own datastore holds for the key, read directly. */
async function held(node: ClusterNode, key: string): Promise<unknown> {
  return plain(await node.redis.call('GET', key))
}

t.test('a write through a non-owner is stored by the owner of its rack, not by the node it came through', async (t) => {
  for (const via of rack1) {
    for (const owner of rack1) {
      const [key] = cluster.keysOwnedBy(owner, `fw:w:${via.index}`)
      t.same(plain(await via.call('SET', key!, `from-${via.index}`)), { ok: 'OK' }, `SET ${key} via ${via.name}`)
      // DC_ONE: the reply came from the local rack's owner, so its datastore holds the value now.
      t.same(await held(owner, key!), `from-${via.index}`, `stored on the owner ${owner.name}`)
      for (const other of rack1) if (other !== owner) t.same(await held(other, key!), null, `not on ${other.name}`)
      t.ok(await waitForValue(rack2.redis, key!, `from-${via.index}`), 'and replicated to the other rack')
    }
  }
})

t.test('a read through a non-owner is answered by the owner\'s datastore', async (t) => {
  for (const via of rack1) {
    for (const owner of rack1) {
      const [key] = cluster.keysOwnedBy(owner, `fw:r:${via.index}`)
      // Planted behind the proxy's back: only the owner's datastore has this value; the node asked holds a decoy.
      await owner.redis.call('SET', key!, `planted-on-${owner.index}`)
      if (via !== owner) await via.redis.call('SET', key!, 'decoy')
      t.same(plain(await via.call('GET', key!)), `planted-on-${owner.index}`, `GET ${key} via ${via.name} reads ${owner.name}'s datastore`)
    }
  }
})

t.test('multi-key reads gather from each owner, writes split to each owner', async (t) => {
  const keys = rack1.flatMap((owner) => cluster.keysOwnedBy(owner, 'fw:multi', 3))
  for (const key of keys) await cluster.ownerOf(key, 'dc1', 'rack1').redis.call('SET', key, `p-${key}`)
  const via = rack1[0]!
  t.same(plain(await via.call('MGET', ...keys)), keys.map((k) => `p-${k}`), 'MGET gathers the planted values from all three owners')
  t.same(plain(await via.call('MSET', ...keys.flatMap((k) => [k, `m-${k}`]))), { ok: 'OK' }, 'MSET across owners')
  for (const key of keys) {
    const owner = cluster.ownerOf(key, 'dc1', 'rack1')
    t.same(await held(owner, key), `m-${key}`, `${key} written on its owner ${owner.name}`)
  }
  t.same(plain(await via.call('DEL', ...keys)), keys.length, 'DEL across owners sums the counts')
})

t.test('hash tags keep related keys on one owner', async (t) => {
  const [tagKey] = cluster.keysOwnedBy(rack1[2]!, 'fwtag')
  const tag = `{${tagKey}}`
  const via = rack1[0]!
  t.same(plain(await via.call('MSET', `${tag}:a`, '1', `${tag}:b`, '2')), { ok: 'OK' }, 'MSET of two tagged keys')
  t.same(await held(rack1[2]!, `${tag}:a`), '1', 'first tagged key on the tag\'s owner')
  t.same(await held(rack1[2]!, `${tag}:b`), '2', 'second tagged key on the same owner')
  t.same(plain(await via.call('RENAME', `${tag}:a`, `${tag}:c`)), { ok: 'OK' }, 'RENAME between tagged keys is forwarded whole')
  t.same(await held(rack1[2]!, `${tag}:c`), '1', 'renamed on the owner')
})
