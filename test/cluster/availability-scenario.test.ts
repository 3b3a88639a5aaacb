// Issue 11's scenario, reduced (3 racks + a remote DC of one node, short faults): 8 writers at DC_ONE, a node killed -9 for 5 s, the
// remote DC frozen for 6 s; no write refused, every read answered, the dead node seen down quickly, and every acknowledged write on every
// replica's redis within 30 s of everything being back. DYNOPROXY_SCENARIO=full runs the bench's full size (bench/availability.ts).

import t from 'tap'
import { runScenario, type ScenarioOptions } from '../helpers/availability-scenario.ts'

const full = process.env['DYNOPROXY_SCENARIO'] === 'full'

const reduced: ScenarioOptions = {
  layout: {
    dcs: [
      { name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }] },
      { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
    ],
  },
  kill: { dc: 'dc1', rack: 'rack3', index: 0, atMs: 1000, forMs: 5000 },
  freeze: { dc: 'dc2', atMs: 4500, forMs: 6000 },
  writers: 8,
  maxWritesPerWriter: 20_000,
  tailMs: 1500,
  settleMs: 0,
  convergeMs: 30_000,
}

const fullSize: ScenarioOptions = {
  layout: {
    dcs: [
      { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 2 }, { name: 'rack3', nodes: 2 }] },
      { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }] },
    ],
  },
  kill: { dc: 'dc1', rack: 'rack1', index: 0, atMs: 2000, forMs: 5000 },
  freeze: { dc: 'dc2', atMs: 9000, forMs: 6000 },
  writers: 8,
  maxWritesPerWriter: 50_000,
  tailMs: 3000,
  settleMs: 30_000,
  convergeMs: 30_000,
}

t.test(`availability scenario (${full ? 'full' : 'reduced'})`, async (t) => {
  // DYNOPROXY_SCENARIO_POOL: more pool keys as JSON (the bench's baseline runs with {"max_hints":0}).
  const extra = JSON.parse(process.env['DYNOPROXY_SCENARIO_POOL'] ?? '{}') as Record<string, unknown>
  const base = full ? fullSize : reduced
  const f = await runScenario(t, { ...base, pool: { ...base.pool, ...extra }, log: (l) => t.comment(l) })
  t.comment(`SCENARIO-FIGURES ${JSON.stringify(f)}`)
  t.ok(f.acked > 1000, `writes acknowledged (${f.acked})`)
  t.equal(f.refused, 0, `no write refused while a replica was up (${f.refusedSamples.join('; ')})`)
  t.equal(f.readErrors, 0, `every read answered (${f.reads} reads; ${f.readErrorSamples.join('; ')})`)
  t.ok(f.detectionMaxMs >= 0 && f.detectionMaxMs <= 6000, `the killed node seen down by every other node (max ${f.detectionMaxMs} ms: ${JSON.stringify(f.detectionMs)})`)
  t.equal(f.missingAtDeadline, 0, `every acknowledged write on every replica (missing at first check: ${f.missingCopies} ${JSON.stringify(f.missingByNode)}; converged after ${f.convergedAfterMs} ms)`)
})
