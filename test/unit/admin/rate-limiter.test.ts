// RateLimiter: token buckets per address, refilled over time, bounded in memory.
// Pure: time is passed in.

import t from 'tap'
import { RateLimiter } from '../../../src/admin/index.ts'

t.test('a burst, then the refill rate', async (t) => {
  const r = new RateLimiter({ perSecond: 10, burst: 3 })
  t.same([r.take('a', 0), r.take('a', 0), r.take('a', 0), r.take('a', 0)], [true, true, true, false])
  t.equal(r.take('b', 0), true, 'addresses have their own buckets')
  t.equal(r.take('a', 50), false, 'half a token after 50 ms')
  t.equal(r.take('a', 100), true, 'one token after 100 ms')
  t.equal(r.take('a', 100), false)
  t.same([r.take('a', 10_000), r.take('a', 10_000), r.take('a', 10_000), r.take('a', 10_000)], [true, true, true, false], 'refill stops at the burst size')
})

t.test('memory is bounded: idle buckets are forgotten, strangers share one', async (t) => {
  const r = new RateLimiter({ perSecond: 1, burst: 1 }, 4)
  for (let i = 0; i < 4; i++) r.take(`ip${i}`, 0)
  t.equal(r.size, 4)
  t.equal(r.take('new1', 0), true, 'a newcomer past the limit uses the shared bucket')
  t.equal(r.take('new2', 0), false, 'and shares it with the next newcomer')
  t.ok(r.size <= 5)
  t.equal(r.take('late', 5000), true, 'after the idle ones refilled, they are dropped and the newcomer gets its own')
  t.ok(r.size <= 5)
})
