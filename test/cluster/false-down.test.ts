// No false down under full load (issue 11's detection figure): a 4-node cluster (3 racks + a remote DC) driven at full speed by
// redis-benchmark on every node while the failure detectors run; no node may ever mark a live peer down. A measurement, run on its own
// (DYNOPROXY_FALSE_DOWN_SECONDS=600 for the figure): inside the suite, with other cluster tests on the same 2 cores at once, the
// machine is past full load and a 2.25 s silence is a fair verdict; so the suite runs it only when the variable is set.

import { spawn } from 'node:child_process'
import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'

const SECONDS = Number(process.env['DYNOPROXY_FALSE_DOWN_SECONDS'] ?? '0')
if (SECONDS <= 0) {
  t.comment('DYNOPROXY_FALSE_DOWN_SECONDS not set: the false-down measurement runs on its own (see BENCHMARKS.md)')
  t.pass('not run inside the suite')
  process.exit(0)
}
const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
})

function downEvents(output: string): string[] {
  return output.split('\n').filter((l) => l.includes('"msg":"peer down"'))
}

t.test(`${SECONDS} s of full load on every node: no peer ever marked down`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
  const before = cluster.nodes.map((n) => downEvents(n.output()).length)
  const deadline = Date.now() + SECONDS * 1000
  const loads = cluster.nodes.map((n) => {
    // Bounded by count (far above what the time allows) and by the deadline below.
    const p = spawn('redis-benchmark', ['-p', String(n.clientPort), '-t', 'set,get', '-c', '20', '-P', '16', '-n', '200000000', '-r', '100000', '-q'], { stdio: 'ignore' })
    return p
  })
  t.teardown(() => loads.forEach((p) => p.kill('SIGKILL')))
  let requests = 0
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))))
    const text = await (await fetch(`http://127.0.0.1:${cluster.nodes[0]!.statsPort}/metrics`)).text()
    const m = /^dynoproxy_requests_total\{[^}]*\} (\S+)$/m.exec(text)
    if (m !== null) requests = Number(m[1])
  }
  loads.forEach((p) => p.kill('SIGKILL'))
  t.comment(`${requests} requests through the first node in ${SECONDS} s`)
  t.ok(requests > 10_000, 'the load was real')
  cluster.nodes.forEach((n, i) => {
    const events = downEvents(n.output()).slice(before[i])
    t.same(events, [], `${n.name}: no peer marked down`)
  })
})
