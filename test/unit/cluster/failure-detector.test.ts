// FailureDetector: phi grows with silence relative to the peer's own rhythm; down past the threshold, up again only after two answers.
// Pure: simulated clocks, no sockets.
import t from 'tap'
import { FailureDetector, FD_DOWN, FD_UP, FD_UNKNOWN, FD_DATASTORE_DOWN } from '../../../src/cluster/failure-detector.ts'

const settings = { intervalMs: 1000, threshold: 8, acceptablePauseMs: 1400, minStdDevMs: 100, upAfter: 2 }

function regular(d: FailureDetector, node: number, beats: number, every: number, from = 0): number {
  let t = from
  for (let i = 0; i < beats; i++) {
    t += every
    d.heartbeat(node, t, true)
  }
  return t
}

t.test('unknown until the first answer; up at once on it', async (t) => {
  const d = new FailureDetector(2, settings)
  t.equal(d.verdict(1), FD_UNKNOWN)
  t.equal(d.check(1, 10_000), FD_UNKNOWN, 'no evidence, no verdict')
  t.equal(d.heartbeat(1, 0, true), FD_UP)
})

t.test('a silent node (1 s heartbeats) is down within 3 s, not before 2 s', async (t) => {
  const d = new FailureDetector(2, settings)
  const last = regular(d, 1, 30, 1000)
  let downAt = -1
  for (let dt = 0; dt <= 5000; dt += 50) {
    if (d.check(1, last + dt) === FD_DOWN) {
      downAt = dt
      break
    }
  }
  t.ok(downAt > 2000 && downAt <= 3000, `down ${downAt} ms after the last answer`)
  t.ok(d.phi(1, last + 500) < 1, 'half an interval late is no suspicion')
})

t.test('a jittery peer earns more patience than a regular one', async (t) => {
  const d = new FailureDetector(3, settings)
  regular(d, 1, 50, 1000)
  let t2 = 0
  for (let i = 0; i < 50; i++) {
    t2 += i % 2 === 0 ? 400 : 1600
    d.heartbeat(2, t2, true)
  }
  const late = 2700
  t.ok(d.phi(2, t2 + late) < d.phi(1, 50_000 + late), 'same silence, lower phi for the jittery one')
})

t.test('hysteresis: a down node needs two answers in a row; a failed link is down at once', async (t) => {
  const d = new FailureDetector(2, settings)
  const last = regular(d, 1, 10, 1000)
  t.equal(d.linkFailed(1), FD_DOWN)
  t.equal(d.heartbeat(1, last + 1000, true), FD_DOWN, 'one answer is not enough')
  t.equal(d.linkFailed(1), FD_DOWN, 'a failure in between starts over')
  t.equal(d.heartbeat(1, last + 2000, true), FD_DOWN)
  t.equal(d.heartbeat(1, last + 3000, true), FD_UP, 'two answers in a row')
})

t.test('a node that answers but whose datastore does not is DATASTORE_DOWN, and back on the next good answer', async (t) => {
  const d = new FailureDetector(2, settings)
  const last = regular(d, 1, 5, 1000)
  t.equal(d.heartbeat(1, last + 1000, false), FD_DATASTORE_DOWN)
  t.equal(d.check(1, last + 1500), FD_DATASTORE_DOWN, 'it answers, so phi stays low')
  t.equal(d.heartbeat(1, last + 2000, true), FD_UP)
})
