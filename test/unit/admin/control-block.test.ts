// The control block shared by the supervisor and the workers: layout, overrides with generations, payload buckets and their percentiles.
// Pure: one SharedArrayBuffer, no threads (the integration tests cover the workers).

import t from 'tap'
import {
  ControlBlock, allocControl, controlLayout, payloadBucket, bucketPercentile, bucketMean,
  C_SEQ, C_STATE, C_TIMEOUT_FACTOR, ST_WRITES_ONLY, PAYLOAD_BUCKETS, WORKER_METRICS,
} from '../../../src/stats/index.ts'

const shapes = [{ name: 'a', servers: ['s1', 's2'] }, { name: 'b', servers: ['s3'] }]

t.test('layout: header, one override per server, per-worker probe and payload areas that do not overlap', async (t) => {
  const l = controlLayout(shapes, 3)
  t.same(l.overrideBase, [16, 18])
  t.equal(l.workerBase[0] * 8 >= 19 * 4, true, 'float area after the int area')
  t.equal(l.payloadBase[0], l.workerBase[0] + WORKER_METRICS.length)
  t.equal(l.workerBase[1], l.payloadBase[0] + PAYLOAD_BUCKETS)
  t.equal(l.bytes, (l.payloadBase[2] + PAYLOAD_BUCKETS) * 8)
  const b = new ControlBlock(allocControl(shapes, 3), shapes, 3)
  t.equal(b.get(C_TIMEOUT_FACTOR), 1, 'timeout factor starts at 1')
  t.equal(b.state, 0, 'a fresh block is NORMAL')
})

t.test('every change moves SEQ; overrides count generations so up after up is seen', async (t) => {
  const b = new ControlBlock(allocControl(shapes, 1), shapes, 1)
  const s0 = b.seq
  b.set(C_STATE, ST_WRITES_ONLY)
  t.equal(b.state, ST_WRITES_ONLY)
  t.equal(b.seq, s0 + 1)
  b.setOverride(0, 1, true)
  t.equal(b.forcedDown(0, 1), true)
  t.equal(b.forcedDown(0, 0), false)
  const w1 = b.override(0, 1)
  b.setOverride(0, 1, false)
  const w2 = b.override(0, 1)
  b.setOverride(0, 1, false)
  const w3 = b.override(0, 1)
  t.ok(w1 !== w2 && w2 !== w3, 'two ups in a row are two changes')
  t.equal(b.forcedDown(0, 1), false)
  t.equal(b.get(C_SEQ), s0 + 4)
  b.setOverride(1, 0, true)
  t.equal(b.forcedDown(1, 0), true, 'second pool')
  t.equal(b.forcedDown(0, 0), false)
})

t.test('payload buckets: powers of two, percentiles at the upper bound', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 8, 9, 1024, 1025].map(payloadBucket), [0, 0, 1, 2, 2, 3, 3, 4, 10, 11])
  const b = new ControlBlock(allocControl(shapes, 2), shapes, 2)
  const w0 = b.payloadBuckets(0)
  const w1 = b.payloadBuckets(1)
  for (let i = 0; i < 98; i++) w0[payloadBucket(30)]++
  w1[payloadBucket(3000)] += 2
  const all = b.payloadTotals()
  t.equal(bucketPercentile(all, 50), 32)
  t.equal(bucketPercentile(all, 98), 32)
  t.equal(bucketPercentile(all, 99), 4096)
  t.equal(bucketPercentile(all, 100), 4096)
  t.equal(bucketPercentile(new Float64Array(PAYLOAD_BUCKETS), 99), 0, 'empty')
  t.ok(bucketMean(all) > 24 && bucketMean(all) < 100)
})
