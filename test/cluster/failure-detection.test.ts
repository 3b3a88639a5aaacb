// Failure detection with Dynomite's default gos_interval (heartbeats once a second): a frozen node is down within about 3 s, a
// half-second pause does not flap it, and a node whose datastore is down is told apart from a node that is down.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] }],
  // server_retry_timeout: a datastore back is reconnected within half a second (Dynomite's 10 s backoff cap, reached while it was
  // down, would only delay the last check; peer links back off 500 ms at most either way).
  pool: { gos_interval: 30_000, server_retry_timeout: 500 },
  // Far longer than the detector needs: detection must not wait for a request (or a heartbeat) to time out.
  timeoutMs: 10_000,
})
const [watcher, watched] = cluster.rackNodes('dc1', 'rack1') as [ClusterNode, ClusterNode]

/** The watcher's "peer up" / "peer down" log lines about the watched node, with their times. */
function verdicts(): { up: boolean; time: number }[] {
  const out: { up: boolean; time: number }[] = []
  for (const line of watcher.output().split('\n')) {
    if (!line.includes('"msg":"peer ')) continue
    try {
      const e = JSON.parse(line) as { peer?: string; up?: unknown; time?: number }
      if (e.peer === watched.peerName && typeof e.up === 'boolean' && typeof e.time === 'number') out.push({ up: e.up, time: e.time })
    } catch {
      // a torn line at the start of the kept tail
    }
  }
  return out
}

async function describedState(): Promise<string | undefined> {
  const body = (await (await fetch(`http://127.0.0.1:${watcher.statsPort}/cluster_describe`)).json()) as {
    dcs: { racks: { servers: { name: string; state: string }[] }[] }[]
  }
  return body.dcs.flatMap((d) => d.racks.flatMap((r) => r.servers)).find((s) => s.name === watched.peerName)?.state
}

async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${watcher.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite",peer="${watched.peerName.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('a half-second pause does not flap the state', async (t) => {
  const before = verdicts().length
  watched.proxy!.kill('SIGSTOP')
  await new Promise((r) => setTimeout(r, 500))
  watched.proxy!.kill('SIGCONT')
  // Several heartbeats later, still no new verdict.
  await new Promise((r) => setTimeout(r, 4000))
  t.equal(verdicts().length, before, 'no "peer down" (nor a new "peer up") for a pause shorter than the detector\'s patience')
  t.equal(await describedState(), 'normal')
})

t.test('a frozen node is marked down within about 3 s, and up again once it answers', async (t) => {
  const before = verdicts().length
  const frozenAt = Date.now()
  watched.proxy!.kill('SIGSTOP')
  try {
    await waitFor(() => verdicts().slice(before).some((v) => !v.up), 15_000, 'the watcher marks it down')
    const down = verdicts().slice(before).find((v) => !v.up)!
    const took = down.time - frozenAt
    t.comment(`frozen node marked down after ${took} ms`)
    t.ok(took <= 4500, `down ${took} ms after SIGSTOP (target 3 s, generous bound 4.5 s)`)
    t.equal(await describedState(), 'down')
    t.equal(await gauge('peer_up'), 0, 'peer_up 0 in /metrics')
  } finally {
    watched.proxy!.kill('SIGCONT')
  }
  await waitFor(async () => (await describedState()) === 'normal', 15_000, 'normal again')
  t.equal(await gauge('peer_up'), 1)
})

t.test('a node up whose datastore is down is described as datastore_down, not down', async (t) => {
  await watched.stopRedis()
  try {
    await waitFor(async () => (await describedState()) === 'datastore_down', 15_000, 'datastore_down')
    t.pass('described as datastore_down')
    t.equal(await gauge('peer_up'), 1, 'the node itself is up')
    t.equal(await gauge('peer_datastore_up'), 0, 'its datastore is not')
    t.notOk(verdicts().slice(-1)[0]?.up === false, 'no "peer down" for it')
  } finally {
    await watched.restartRedis()
  }
  await waitFor(async () => (await describedState()) === 'normal', 20_000, 'normal once its datastore answers')
  t.equal(await gauge('peer_datastore_up'), 1)
})
