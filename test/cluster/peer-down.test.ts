// A peer node down (killed, or frozen): its keys fail in time with -ERR Peer through the other nodes of its rack, other keys keep
// working, and a restarted node on the same ports rejoins without touching the others. It must never wait a fixed time for any of it.

import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import type { Test } from 'tap'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RespReply } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1000
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 3 }, { name: 'rack2', nodes: 1 }] }],
  timeoutMs: TIMEOUT_MS,
  // Dynomite's exact behaviour: a dead owner fails its keys (read and write failover have their own tests).
  pool: { read_failover: false, write_failover: false },
})
const [a, dead, c] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode, ClusterNode]
const other = cluster.node('dc1', 'rack2', 0)
const deadKeys = cluster.keysOwnedBy(dead, 'pd:dead', 3)
const liveKeys = [...cluster.keysOwnedBy(a, 'pd:a', 2), ...cluster.keysOwnedBy(c, 'pd:c', 2)]
const pids = new Map(cluster.nodes.map((n) => [n, n.proxy!.pid]))

/** One command that must be answered within `ms`: a dead peer gives an error, never a hang. */
async function timely(t: Test, node: ClusterNode, ms: number, ...args: string[]): Promise<RespReply> {
  const started = Date.now()
  const reply = await node.call(...args)
  const took = Date.now() - started
  t.ok(took < ms, `${args.slice(0, 2).join(' ')} via ${node.name} answered in ${took} ms (< ${ms})`)
  return reply
}

t.test('keys of a killed node fail with -ERR Peer in time; the rest keep working', async (t) => {
  for (const key of [...deadKeys, ...liveKeys]) t.same(plain(await a.call('SET', key, 'before')), { ok: 'OK' }, `SET ${key} while all are up`)
  await dead.kill()
  // The other rack has its own copy of every key: the dead node's keys are still served there. (Checked first: a write
  // that fails on the dead owner below may still reach the other rack, as in Dynomite, where replicas are not rolled back.)
  for (const key of deadKeys) t.same(plain(await other.call('GET', key)), 'before', `GET ${key} via the other rack`)
  const expected = new Map(liveKeys.map((k) => [k, 'before']))
  for (const via of [a, c]) {
    for (const key of deadKeys) {
      t.match(plain(await timely(t, via, TIMEOUT_MS + 1500, 'GET', key)), { err: /^ERR Peer: / }, `GET ${key} (owned by the dead node) via ${via.name}`)
      t.match(plain(await timely(t, via, TIMEOUT_MS + 1500, 'SET', key, 'x')), { err: /^ERR Peer: / }, `SET ${key} via ${via.name}`)
    }
    for (const key of liveKeys) {
      t.same(plain(await timely(t, via, TIMEOUT_MS, 'GET', key)), expected.get(key), `GET ${key} (a live owner) via ${via.name}`)
      t.same(plain(await via.call('SET', key, `during-${via.index}`)), { ok: 'OK' }, `SET ${key} via ${via.name}`)
      expected.set(key, `during-${via.index}`)
    }
    const m = await timely(t, via, TIMEOUT_MS + 1500, 'MGET', ...liveKeys, deadKeys[0]!)
    t.ok(m.kind === 'error' || m.kind === 'array', `MGET over a dead owner's key via ${via.name} is answered`, { got: plain(m) })
  }
  t.same(plain(await other.call('SET', deadKeys[0]!, 'while-dead')), { ok: 'OK' }, 'a write through the other rack still succeeds at DC_ONE')
})

t.test('the killed node restarts on the same ports and serves again; the others were never restarted', async (t) => {
  await dead.start()
  await cluster.waitReady()
  for (const key of deadKeys) {
    const got = await waitFor(
      async () => {
        const r = await a.call('GET', key)
        return r.kind !== 'error' ? r : null
      },
      10_000,
      `GET ${key} via ${a.name} after the rejoin`,
    ).catch(() => null)
    t.ok(got !== null, `GET ${key} via ${a.name} works again`)
  }
  // The restarted node kept its datastore, so what it owned is still there; writes reach it again through its peers.
  t.same(plain(await a.call('GET', deadKeys[1]!)), 'before', 'its datastore still holds what it had before the crash')
  t.same(plain(await a.call('SET', deadKeys[1]!, 'after')), { ok: 'OK' }, 'SET through a peer')
  t.same(plain(await dead.redis.call('GET', deadKeys[1]!)), 'after', 'stored on the rejoined node')
  t.same(plain(await dead.call('GET', liveKeys[0]!)), `during-${c.index}`, 'the rejoined node forwards to its peers too')
  t.same(plain(await other.call('SET', deadKeys[2]!, 'from-rack2')), { ok: 'OK' }, 'a write through the other rack')
  t.ok(await waitForValue(dead.redis, deadKeys[2]!, 'from-rack2'), 'is replicated to the rejoined node')
  for (const n of cluster.nodes) if (n !== dead) t.equal(n.proxy!.pid, pids.get(n), `${n.name} kept running (same pid)`)
})

t.test('a frozen node (SIGSTOP) fails its keys after the request timeout, then recovers on SIGCONT', async (t) => {
  const frozen = c
  const key = cluster.keysOwnedBy(frozen, 'pd:frozen')[0]!
  t.same(plain(await a.call('SET', key, 'warm')), { ok: 'OK' }, 'SET while it is up')
  frozen.proxy!.kill('SIGSTOP')
  // kill() returns once the signal is sent; each of the node's threads stops as it next enters the kernel. Under load one may still
  // answer a request sent at once (seen: 'warm' 2 ms later): wait until every thread reads as stopped.
  const pid = frozen.proxy!.pid
  await waitFor(() => readdirSync(`/proc/${pid}/task`).every((tid) => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1'))), 5000, 'every thread of the node stopped')
  try {
    const r = await timely(t, a, TIMEOUT_MS + 2500, 'GET', key)
    t.match(plain(r), { err: /^ERR Peer: / }, 'GET of its key: -ERR Peer after the timeout')
    t.same(plain(await timely(t, a, TIMEOUT_MS, 'GET', liveKeys[0]!)), `during-${c.index}`, 'a key of a live owner meanwhile')
  } finally {
    frozen.proxy!.kill('SIGCONT')
  }
  const back = await waitFor(async () => plain(await a.call('GET', key)) === 'warm', 10_000, 'the thawed node to serve').catch(() => false)
  t.ok(back, 'its keys are served again after SIGCONT')
})
