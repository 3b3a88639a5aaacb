// A node back from down is not read from for a short grace: the writes it missed are hints held by other coordinators, which replay
// them only once they see it up; until then it would answer nil for keys that exist. Reads in the grace go to the next replica.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

async function peerUp(from: ClusterNode, peer: ClusterNode): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${from.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_peer_up\\{pool="dyn_o_mite",peer="${peer.peerName.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('reads through a coordinator skip a node that just came back while another coordinator still holds its hints', async (t) => {
  const cluster = await startCluster(t, {
    dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] }],
    // The restarted owner's redis holds none of the keys: warm-up would copy them from a peer rack, and this test is about hints.
    pool: { warm_up: false },
  })
  const [reader, owner] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode]
  const writer = cluster.node('dc1', 'rack2', 0)
  const keys = cluster.keysOwnedBy(owner, 'rg', 10)
  await owner.kill()
  await waitFor(async () => (await peerUp(reader, owner)) === 0 && (await peerUp(writer, owner)) === 0, 20_000, 'the owner seen down')
  for (const k of keys) t.same(plain(await writer.call('SET', k, `v:${k}`)), { ok: 'OK' })
  // The writer holds the owner's hints and cannot replay them while frozen; the reader sees it down and reads around it.
  const frozen = writer.proxy!
  frozen.kill('SIGSTOP')
  try {
    await waitFor(async () => (await peerUp(reader, writer)) === 0, 20_000, 'the frozen writer seen down')
    await owner.start()
    await waitFor(async () => (await peerUp(reader, owner)) === 1, 20_000, 'the owner seen up again', 20)
    const upAt = Date.now()
    const conn = await reader.connect()
    // The reader's link to the owner connected again (a write through it reached the owner's redis): reads can go there now.
    const probe = cluster.keysOwnedBy(owner, 'rgp', 1)[0]!
    await waitFor(async () => {
      await conn.call(['SET', probe, 'p'], 5000)
      return plain(await owner.redis.call('GET', probe)) === 'p'
    }, 10_000, "the reader's link to the owner is up")
    t.comment(`link up ${Date.now() - upAt} ms after the owner was seen up`)
    let found = 0
    for (const k of keys) if (plain(await conn.call(['GET', k], 5000)) === `v:${k}`) found++
    t.comment(`reads done ${Date.now() - upAt} ms after; ${found} found`)
    t.equal(found, keys.length, 'every key read from rack3 while the owner is in its grace (it lacks them: the frozen writer owes them)')
    t.equal(plain(await owner.redis.call('GET', keys[0]!)), null, 'the owner indeed lacks them')
  } finally {
    frozen.kill('SIGCONT')
  }
  await waitFor(async () => plain(await owner.redis.call('GET', keys[keys.length - 1]!)) === `v:${keys[keys.length - 1]}`, 20_000, 'the writer replays them once running')
  t.pass('the owner has them once the writer replayed its hints')
})
