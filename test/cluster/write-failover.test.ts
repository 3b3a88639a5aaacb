// Write failover (issue 11 part 2): a DC_ONE write whose owner in this rack is down is stored by the next local rack and
// answered OK; the owner gets it as a hint and has it once it is back. With write_failover: false the owner's failure is the answer.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 3 }, { name: 'rack2', nodes: 1 }] }],
  // rack1/2 keeps Dynomite's behaviour, for the contrast.
  nodePool: ({ rack, index }) => (rack === 'rack1' && index === 2 ? { write_failover: false } : {}),
})
const [coordinator, owner, exact] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode, ClusterNode]
const rack2 = cluster.node('dc1', 'rack2', 0)
const keys = cluster.keysOwnedBy(owner, 'wf', 20)

async function metric(node: ClusterNode, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite"${labels}\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}
const ownerLabel = `,peer="${owner.peerName.replace(/\./g, '\\.')}"`

t.test('the owner down: writes are stored by the next rack and answered OK, the owner gets them as hints once back', async (t) => {
  await owner.kill()
  await waitFor(async () => (await metric(coordinator, 'peer_up', ownerLabel)) === 0, 20_000, 'the coordinator marks the owner down')
  await waitFor(async () => (await metric(exact, 'peer_up', ownerLabel)) === 0, 20_000, 'rack1/2 marks it down too')
  for (const k of keys) t.same(plain(await coordinator.call('SET', k, `v:${k}`)), { ok: 'OK' }, `SET ${k} acknowledged while its owner is down`)
  t.equal(await metric(coordinator, 'write_failovers_total'), keys.length, 'each counted as a write failover')
  for (const k of keys) t.equal(plain(await rack2.redis.call('GET', k)), `v:${k}`, `${k} stored by rack2`)
  t.equal(await metric(coordinator, 'hints_queued', ownerLabel), keys.length, 'the owner has them as hints')
  t.same(plain(await coordinator.call('GET', keys[0]!)), `v:${keys[0]}`, 'and reads find them (read failover)')

  t.match(plain(await exact.call('SET', keys[0]!, 'exact')), { err: /^ERR Peer:/ }, 'write_failover: false: the owner\'s failure is the answer')

  await owner.start()
  await waitFor(async () => {
    for (const k of keys) if (plain(await owner.redis.call('GET', k)) !== `v:${k}`) return false
    return true
  }, 20_000, 'every write replayed to the owner')
  t.pass('the owner has every write made while it was down')
  t.equal(await metric(coordinator, 'hints_queued', ownerLabel), 0, 'no hint left')
})

t.test('the owner up but its datastore failing: a SET fails over to the next rack at once, the owner gets it as a hint; an INCR does not', async (t) => {
  const ks = cluster.keysOwnedBy(owner, 'wfd', 10)
  const before = await metric(coordinator, 'write_failovers_total')
  await owner.stopRedis()
  // The owner is up (only its datastore is not): nothing routes around it, so each write meets the failure itself.
  for (const k of ks) t.same(plain(await coordinator.call('SET', k, `d:${k}`)), { ok: 'OK' }, `SET ${k} acknowledged`)
  t.equal(await metric(coordinator, 'write_failovers_total'), before + ks.length, 'each one failed over')
  for (const k of ks) t.equal(plain(await rack2.redis.call('GET', k)), `d:${k}`, `${k} stored by rack2`)
  t.match(plain(await coordinator.call('INCR', cluster.keysOwnedBy(owner, 'wfdc', 1)[0]!)), { err: /Storage/ }, 'an INCR is not applied twice anywhere: its failure is the answer')
  await waitFor(async () => (await metric(coordinator, 'hints_queued', ownerLabel)) >= ks.length, 10_000, 'the owner has the SETs as hints')
  await owner.restartRedis()
  await waitFor(async () => {
    for (const k of ks) if (plain(await owner.redis.call('GET', k)) !== `d:${k}`) return false
    return true
  }, 30_000, 'every SET replayed to the owner\'s new redis')
  t.pass('the owner has every write it failed')
})
