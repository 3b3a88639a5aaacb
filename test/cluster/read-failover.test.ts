// Server-side read failover: a DC_ONE read whose owner is killed, frozen, or whose datastore is down is answered by the next
// replica (another local rack, then the remote DC), counted; with read_failover: false the owner's failure is the answer.
// It must never decide placement with the proxy's own ring code: owners come from the tests' placement model (test/helpers/cluster-ring.ts).

import t from 'tap'
import type { Test } from 'tap'
import { startCluster, peerStatesSeen } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1500
const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  timeoutMs: TIMEOUT_MS,
  // An ejected datastore server is tried again after half a second (Dynomite's default is 30 s).
  pool: { server_retry_timeout: 500 },
  // One node keeps Dynomite's exact behaviour, for the contrast.
  nodePool: ({ dc, rack, index }) => (dc === 'dc1' && rack === 'rack1' && index === 1 ? { read_failover: false } : {}),
})
const [coordinator, owner] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode]
const rack2 = cluster.node('dc1', 'rack2', 0)
const remote = cluster.node('dc2', 'rack1', 0)

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function timely(t: Test, node: ClusterNode, ms: number, ...args: string[]): Promise<RespReply> {
  const started = Date.now()
  const reply = await node.call(...args)
  t.ok(Date.now() - started < ms, `${args.slice(0, 2).join(' ')} via ${node.name} answered in time (< ${ms} ms)`)
  return reply
}

/** Keys the owner (dc1/rack1/1) holds, written through it and replicated to rack2 and dc2. */
const keys = cluster.keysOwnedBy(owner, 'rf', 4)
const counter = cluster.keysOwnedBy(owner, 'rfc', 1)[0]!

t.test('setup: the owner\'s keys are written and replicated to rack2 and dc2', async (t) => {
  for (const k of keys) t.same(plain(await owner.call('SET', k, `v:${k}`)), { ok: 'OK' })
  await waitFor(async () => {
    for (const k of keys) if (plain(await rack2.redis.call('GET', k)) !== `v:${k}` || plain(await remote.redis.call('GET', k)) !== `v:${k}`) return false
    return true
  }, 10_000, 'every key on rack2 and dc2')
})

t.test('the owner\'s datastore down: the read fails over to the next rack', async (t) => {
  const before = await metric(coordinator, 'read_failovers_total')
  await owner.stopRedis()
  try {
    for (const k of keys) t.same(plain(await timely(t, coordinator, TIMEOUT_MS + 1500, 'GET', k)), `v:${k}`, `GET ${k} served by a replica`)
    t.ok((await metric(coordinator, 'read_failovers_total')) >= before + keys.length, 'each failover counted')
    // A write that may not apply twice (an INCR) does not fail over (write-failover.test.ts has the SETs that do): the owner's failure, named.
    t.match(plain(await coordinator.call('INCR', counter)), { err: /^ERR Storage:/ }, 'an INCR to the owner fails, named as its datastore\'s failure')
    // Through the owner itself, once its only datastore server is ejected: still a Storage error, never "Peer Node is not connected".
    await waitFor(async () => /^ERR Storage: no datastore is available/.test(String((plain(await owner.call('INCR', counter)) as { err?: string }).err)), 10_000, 'the owner names its own datastore')
    t.pass('a write through the owner whose datastore is ejected: -ERR Storage: no datastore is available (all ejected)')
  } finally {
    await owner.restartRedis()
  }
  // The owner's datastore came back empty: write the keys again through it once its backend reconnected.
  await waitFor(async () => {
    for (const k of keys) if ((await owner.call('SET', k, `v:${k}`)).kind === 'error') return false
    return true
  }, 10_000, 'owner serving again')
})

t.test('the owner frozen (SIGSTOP): reads answered by a replica within the timeout, then at once once it is seen down', async (t) => {
  const proc = owner.proxy!
  proc.kill('SIGSTOP')
  try {
    t.same(plain(await timely(t, coordinator, TIMEOUT_MS + 2500, 'GET', keys[1]!)), `v:${keys[1]}`, 'the timed-out read moves to a replica')
    await waitFor(() => peerStatesSeen(coordinator.output()).get(owner.peerName) === false, 10_000, 'the owner seen down')
    for (const k of keys.slice(1)) t.same(plain(await timely(t, coordinator, 1000, 'GET', k)), `v:${k}`, `GET ${k} at once from a replica`)
  } finally {
    proc.kill('SIGCONT')
  }
  await waitFor(() => peerStatesSeen(coordinator.output()).get(owner.peerName) === true, 15_000, 'the owner back up')
})

t.test('the owner killed and rack2 frozen: the remote DC answers', async (t) => {
  const frozen = rack2.proxy!
  await owner.kill()
  frozen.kill('SIGSTOP')
  try {
    await waitFor(() => {
      const seen = peerStatesSeen(coordinator.output())
      return seen.get(owner.peerName) === false && seen.get(rack2.peerName) === false
    }, 15_000, 'owner and rack2 seen down')
    for (const k of keys) t.same(plain(await timely(t, coordinator, 1000, 'GET', k)), `v:${k}`, `GET ${k} from dc2`)
  } finally {
    frozen.kill('SIGCONT')
  }
})

t.test('read_failover: false keeps Dynomite\'s behaviour: the owner\'s failure is the answer', async (t) => {
  // The owner is still dead; the node without failover is its rack sibling, which forwards to it.
  const exact = cluster.rackNodes('dc1', 'rack1')[1]!
  t.equal(exact, owner, 'the owner itself is the node configured without failover')
  await owner.start()
  await cluster.waitReady()
  await owner.stopRedis()
  try {
    t.match(plain(await timely(t, owner, TIMEOUT_MS + 1500, 'GET', keys[0]!)), { err: /^ERR Storage:/ }, 'its own datastore down: -ERR Storage, no failover')
  } finally {
    await owner.restartRedis()
  }
})
