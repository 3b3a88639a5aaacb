// HintStore: per-target order, count / bytes / age bounds (oldest of the target dropped first), and what the sink hears.

import t from 'tap'
import { HintStore, type HintQueue, type HintSink } from '../../../src/hints/hint-store.ts'

function recorder(): HintSink & { log: string[]; queuedNow: Map<string, number> } {
  const log: string[] = []
  const queuedNow = new Map<string, number>()
  return {
    log,
    queuedNow,
    queued: (id, n) => void queuedNow.set(id, n),
    replayed: (id, n) => void log.push(`replayed ${id} ${n}`),
    dropped: (id, n, reason) => void log.push(`dropped ${id} ${n} ${reason.split(' ')[0]}`),
    appended: (q, b) => void log.push(`appended ${q.id} ${Buffer.from(b).toString()}`),
    removed: () => undefined,
    emptied: (q) => void log.push(`emptied ${q.id}`),
  }
}

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s))

function contents(q: HintQueue): string[] {
  const out: string[] = []
  for (let i = 0; i < q.count; i++) out.push(Buffer.from(q.bytesAt(i)).toString())
  return out
}

t.test('hints stay in order per target, across ring growth, with increasing sequence numbers', async (t) => {
  const sink = recorder()
  const s = new HintStore({ maxCount: 1000, maxBytes: 1 << 20, maxAge: 60_000 }, sink)
  const a = s.queue('a')
  for (let i = 0; i < 40; i++) t.ok(s.add(a, b(`w${i}`), i % 2 === 1, 1000 + i))
  t.equal(a.count, 40)
  t.same(contents(a).slice(0, 3), ['w0', 'w1', 'w2'])
  t.equal(a.forwardAt(1), true)
  t.equal(a.timeAt(39), 1039)
  t.ok(a.seqAt(1) > a.seqAt(0))
  s.delivered(a)
  t.same(contents(a)[0], 'w1')
  t.equal(s.count, 39)
  t.equal(sink.queuedNow.get('a'), 39)
  for (let i = 0; i < 39; i++) s.delivered(a)
  t.equal(a.count, 0)
  t.equal(s.bytes, 0)
  t.equal(sink.log.at(-1), 'emptied a', 'an empty queue is reported (the file is truncated)')
})

t.test('past max count the oldest hint of that target goes; another target full of hints refuses the new one', async (t) => {
  const sink = recorder()
  const s = new HintStore({ maxCount: 3, maxBytes: 1 << 20, maxAge: 60_000 }, sink)
  const a = s.queue('a')
  const c = s.queue('c')
  for (const v of ['1', '2', '3', '4', '5']) s.add(a, b(v), false, 0)
  t.same(contents(a), ['3', '4', '5'], 'the newest kept')
  t.equal(sink.log.filter((l) => l.startsWith('dropped a 1')).length, 2)
  t.notOk(s.add(c, b('x'), false, 0), "no room, and 'c' has nothing of its own to drop")
  t.ok(sink.log.includes('dropped c 1 max_hints'))
  t.same(contents(a), ['3', '4', '5'], "another target's hints are not touched")
})

t.test('the bytes bound, and a hint larger than the whole bound', async (t) => {
  const sink = recorder()
  const s = new HintStore({ maxCount: 100, maxBytes: 10, maxAge: 60_000 }, sink)
  const a = s.queue('a')
  s.add(a, b('aaaa'), false, 0)
  s.add(a, b('bbbb'), false, 0)
  s.add(a, b('cccc'), false, 0)
  t.same(contents(a), ['bbbb', 'cccc'])
  t.equal(s.bytes, 8)
  t.notOk(s.add(a, b('x'.repeat(11)), false, 0))
  t.ok(sink.log.includes('dropped a 1 larger'))
  t.same(contents(a), ['bbbb', 'cccc'], 'an oversized hint does not empty the queue')
})

t.test('expire drops hints older than max_hint_age from the heads', async (t) => {
  const sink = recorder()
  const s = new HintStore({ maxCount: 100, maxBytes: 1000, maxAge: 100 }, sink)
  const a = s.queue('a')
  const c = s.queue('c')
  s.add(a, b('old'), false, 0)
  s.add(a, b('new'), false, 150)
  s.add(c, b('old'), false, 10)
  t.equal(s.expire(200), 2)
  t.same(contents(a), ['new'])
  t.equal(c.count, 0)
  t.ok(sink.log.includes('emptied c'))
  t.equal(s.count, 1)
  t.equal(s.bytes, 3)
})

t.test('max count 0 keeps nothing', async (t) => {
  const s = new HintStore({ maxCount: 0, maxBytes: 1000, maxAge: 100 }, recorder())
  t.notOk(s.add(s.queue('a'), b('x'), false, 0))
  t.equal(s.count, 0)
})
