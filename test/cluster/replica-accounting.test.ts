// Replica writes are accounted and routed around failures: error replies and timeouts counted per peer and code in /metrics,
// a remote DC whose chosen rack is down gets the write through its next rack, and writes larger than a replication-ring record still arrive.
// It must never decide placement with the proxy's own ring code: owners come from the tests' placement model (test/helpers/cluster-ring.ts).

import t from 'tap'
import { startCluster, waitForValue, peerStatesSeen } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] },
  ],
  timeoutMs: 1500,
  // A patient failure detector (about 3 s to suspect a frozen node): a write to a frozen replica times out (1.5 s) before the
  // detector marks it down, however loaded the machine, so the timeout is what gets counted first.
  pool: { gos_interval: 1000, phi_threshold: 30 },
})
const writer = cluster.node('dc1', 'rack1', 0)
const localReplica = cluster.node('dc1', 'rack2', 0)
const remotePreferred = cluster.node('dc2', 'rack1', 0)
const remoteNext = cluster.node('dc2', 'rack2', 0)

/** A node's figure for one of its peers, e.g. replica_write_failures_total with code="DYN_ERR_TIMEOUT". */
async function peerMetric(node: ClusterNode, name: string, peer: ClusterNode, code?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const labels = `pool="dyn_o_mite",peer="${peer.peerName}"${code === undefined ? '' : `,code="${code}"`}`
  const m = new RegExp(`^dynoproxy_${name}\\{${labels.replace(/[.$]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('a replica that answers with an error is counted for that peer as DYN_ERR_ERROR_REPLY', async (t) => {
  const before = await peerMetric(writer, 'replica_write_failures_total', localReplica, 'DYN_ERR_ERROR_REPLY')
  t.equal(before, 0, 'the series exists and starts at 0')
  const sentBefore = await peerMetric(writer, 'replica_writes_total', localReplica)
  // noeviction with a 1-byte limit: the replica's redis refuses every write with -OOM.
  t.same(plain(await localReplica.redis.call('CONFIG', 'SET', 'maxmemory', '1')), { ok: 'OK' })
  try {
    for (let i = 0; i < 5; i++) t.same(plain(await writer.call('SET', `acct:oom:${i}`, 'v')), { ok: 'OK' }, 'DC_ONE: the client is answered by its own rack')
    await waitFor(async () => (await peerMetric(writer, 'replica_write_failures_total', localReplica, 'DYN_ERR_ERROR_REPLY')) >= 5, 8000, 'five OOM replies counted')
    t.pass('five replica error replies counted for the rack2 peer')
    t.ok((await peerMetric(writer, 'replica_writes_total', localReplica)) >= sentBefore + 5, 'and the five replica writes themselves')
  } finally {
    await localReplica.redis.call('CONFIG', 'SET', 'maxmemory', '0')
  }
})

t.test('a replica that does not answer is counted as DYN_ERR_TIMEOUT (then DYN_ERR_PEER_DOWN or a hint once detected)', async (t) => {
  const proc = localReplica.proxy!
  proc.kill('SIGSTOP')
  try {
    t.same(plain(await writer.call('SET', 'acct:frozen:0', 'v')), { ok: 'OK' }, 'the client does not wait for the frozen replica')
    await waitFor(async () => (await peerMetric(writer, 'replica_write_failures_total', localReplica, 'DYN_ERR_TIMEOUT')) >= 1, 10_000, 'the timeout counted')
    t.pass('the frozen replica\'s write is counted as a timeout')
    await waitFor(() => peerStatesSeen(writer.output()).get(localReplica.peerName) === false, 10_000, 'the detector marks it down')
    t.same(plain(await writer.call('SET', 'acct:frozen:1', 'v')), { ok: 'OK' })
    // The timed-out SET is a hint (safe to apply twice), so this one queues behind it; without that hint it fails as DYN_ERR_PEER_DOWN.
    await waitFor(
      async () => (await peerMetric(writer, 'replica_write_failures_total', localReplica, 'DYN_ERR_PEER_DOWN')) >= 1 || (await peerMetric(writer, 'hints_queued', localReplica)) >= 2,
      8000,
      'peer down counted, or the write kept behind the hint',
    )
    t.pass('a write while it is known down is counted as DYN_ERR_PEER_DOWN or kept as a hint, never silently dropped')
  } finally {
    proc.kill('SIGCONT')
  }
  await waitFor(() => peerStatesSeen(writer.output()).get(localReplica.peerName) === true, 15_000, 'the replica back up')
})

t.test('writes larger than a replication-ring record reach the remote datacenter', async (t) => {
  const big = 'x'.repeat(5 * 1024 * 1024)
  t.same(plain(await writer.call('SET', 'acct:big', big)), { ok: 'OK' })
  for (const n of [remotePreferred, remoteNext, localReplica]) {
    t.ok(await waitForValue(n.redis, 'acct:big', big, 15_000), `the 5 MiB value reached ${n.name}`)
  }
})

t.test('a remote datacenter whose chosen rack is down gets the write through its next rack', async (t) => {
  await remotePreferred.kill()
  await waitFor(() => peerStatesSeen(writer.output()).get(remotePreferred.peerName) === false, 15_000, 'dc2/rack1 seen down')
  const keys = Array.from({ length: 8 }, (_, i) => `acct:fallback:${i}`)
  for (const k of keys) t.same(plain(await writer.call('SET', k, 'fb')), { ok: 'OK' })
  t.same(plain(await writer.call('MSET', 'acct:fbm:1', 'm1', 'acct:fbm:2', 'm2', 'acct:fbm:3', 'm3')), { ok: 'OK' })
  for (const k of keys) t.ok(await waitForValue(remoteNext.redis, k, 'fb', 8000), `${k} reached dc2/rack2`)
  for (const i of [1, 2, 3]) t.ok(await waitForValue(remoteNext.redis, `acct:fbm:${i}`, `m${i}`, 8000), `MSET piece acct:fbm:${i} reached dc2/rack2`)
  t.equal(plain(await remoteNext.redis.call('GET', 'acct:fallback:0')), 'fb')
})
