// Merges of split requests (merge.ts, memcache-merge.ts): quorum arithmetic for 1..5 racks against a model, sums, all-OK,
// each-DC quorum, and the client answered once through the real request path (MGET / multi-get reassembly: stream-merge.test.ts).
// Pure: no sockets; loops are bounded by fixed counts and a seeded generator.

import t from 'tap'
import {
  SumMerge, AllOkMerge, FirstReplyMerge, QuorumMerge, EachDcQuorumMerge,
} from '../../../src/proxy/routing/merge.ts'
import { MemcacheAllOkMerge } from '../../../src/proxy/memcache/memcache-merge.ts'
import { newComposite, newPart, completeLocally, type Merge } from '../../../src/io/request.ts'
import { ERR_NO_QUORUM } from '../../../src/protocol/resp/index.ts'
import { FakeSession } from './backend-harness.ts'

const NO_QUORUM = ERR_NO_QUORUM.toString('latin1')

/** xorshift32: the same sequence on every run. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return (n) => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % n
  }
}

function feed(m: Merge, index: number, reply: string | Buffer): void {
  const b = Buffer.from(reply)
  // Offsets inside a larger buffer, as a reply inside a socket read is.
  const wrapped = Buffer.concat([Buffer.from('junk'), b, Buffer.from('tail')])
  m.part(index, wrapped, 4, 4 + b.length, b[0] === 0x2d)
}

const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1')

// The replies a rack may give in the quorum tables: two different values and two different errors.
const ALPHABET = ['+A\r\n', '+B\r\n', '-ERR one\r\n', '-ERR two\r\n']

function sequences(total: number): string[][] {
  const out: string[][] = []
  const walk = (prefix: string[]): void => {
    if (prefix.length === total) return void out.push(prefix)
    for (const a of ALPHABET) walk([...prefix, a])
  }
  walk([])
  return out
}

/** The contract, written out: when (after how many replies) the answer is known, and what it is. */
function quorumModel(seq: string[], safe: boolean): { at: number; answer: string } {
  const total = seq.length
  const q = Math.floor(total / 2) + 1
  for (let k = 1; k <= total; k++) {
    const seen = seq.slice(0, k)
    const ok = seen.filter((r) => !r.startsWith('-'))
    const errs = seen.filter((r) => r.startsWith('-'))
    if (!safe) {
      if (ok.length >= q) return { at: k, answer: ok[0]! }
      if (errs.length > total - q) return { at: k, answer: errs[0]! }
      continue
    }
    const count = (v: string): number => ok.filter((r) => r === v).length
    const agreed = ok.find((v) => count(v) >= q)
    if (agreed !== undefined) return { at: k, answer: agreed }
    const best = Math.max(0, ...ok.map(count))
    if (best + (total - k) < q) return { at: k, answer: ok.length === 0 && errs.length > 0 ? errs[0]! : NO_QUORUM }
  }
  throw new Error('undecided after every reply')
}

for (const safe of [false, true]) {
  t.test(`${safe ? 'DC_SAFE_QUORUM' : 'DC_QUORUM'}: every sequence of replies from 1 to 5 racks decides when and as the model says`, async (t) => {
    let checked = 0
    const wrong: string[] = []
    for (let total = 1; total <= 5; total++) {
      for (const seq of sequences(total)) {
        const m = new QuorumMerge(total, safe)
        const want = quorumModel(seq, safe)
        let at = 0
        seq.forEach((r, i) => {
          feed(m, i, r)
          if (m.decided && at === 0) at = i + 1
        })
        const got = text(m.finish())
        if (at !== want.at || got !== want.answer) wrong.push(`${JSON.stringify(seq)}: decided at ${at} with ${got.trim()}, want ${want.at} ${want.answer.trim()}`)
        checked++
      }
    }
    t.same(wrong.slice(0, 10), [], `${checked} sequences`)
    t.equal(checked, 4 + 16 + 64 + 256 + 1024)
  })
}

t.test('quorum sizes: a majority of racks, the early answer kept even when the late racks disagree', async (t) => {
  for (const [total, need] of [[1, 1], [2, 2], [3, 2], [4, 3], [5, 3]] as const) {
    const m = new QuorumMerge(total, false)
    for (let i = 0; i < need - 1; i++) feed(m, i, '+A\r\n')
    t.notOk(m.decided, `${total} racks: undecided after ${need - 1}`)
    feed(m, need - 1, '+A\r\n')
    t.ok(m.decided, `${total} racks: decided after ${need}`)
    t.ok(m.succeeded)
    for (let i = need; i < total; i++) feed(m, i, '-ERR late\r\n')
    t.equal(text(m.finish()), '+A\r\n', `${total} racks: the late errors change nothing`)
  }
  const safe = new QuorumMerge(3, true)
  feed(safe, 0, '-ERR x\r\n')
  feed(safe, 1, '-ERR y\r\n')
  t.ok(safe.decided, 'safe, 3 racks, two errors: decided')
  t.notOk(safe.succeeded, 'and not a success')
  t.equal(text(safe.finish()), '-ERR x\r\n', 'the first error')
})

t.test('the client is answered once, at the decision, through the real request path; late pieces reach nobody', async (t) => {
  const session = new FakeSession()
  const merge = new QuorumMerge(3, true)
  const parent = newComposite(session, merge, 3, -1, 0)
  session.labels.set(parent, 'q')
  const parts = [0, 1, 2].map((i) => newPart(parent, i))
  completeLocally(parts[0]!, Buffer.from('$1\r\nv\r\n'))
  t.equal(session.answers.length, 0, 'one reply of three: not yet')
  completeLocally(parts[1]!, Buffer.from('$1\r\nv\r\n'))
  t.same(session.answers.map((a) => [a.label, a.text]), [['q', '$1\r\nv\r\n']], 'answered at the second matching reply')
  completeLocally(parts[2]!, Buffer.from('$1\r\nw\r\n'))
  t.equal(session.answers.length, 1, 'the third reply reaches nobody')
  t.equal(parent.pending, 0)

  const closed = new FakeSession()
  const p2 = newComposite(closed, new SumMerge(), 2, -1, 0)
  closed.closed = true
  for (let i = 0; i < 2; i++) completeLocally(newPart(p2, i), Buffer.from(':1\r\n'))
  t.equal(closed.answers.length, 0, 'a split request of a closed client answers nobody')
})

t.test('DEL/EXISTS sum, MSET all-OK, broadcast first reply', async (t) => {
  const r = rng(7)
  for (let iter = 0; iter < 100; iter++) {
    const pieces = 1 + r(6)
    const s = new SumMerge()
    let sum = 0
    for (let p = 0; p < pieces; p++) {
      const n = r(1000) - (iter % 10 === 0 ? 500 : 0)
      sum += n
      feed(s, p, `:${n}\r\n`)
    }
    if (text(s.finish()) !== `:${sum}\r\n`) t.fail(`sum of ${pieces} pieces`)
  }
  const e = new SumMerge()
  feed(e, 0, ':3\r\n')
  feed(e, 1, '$1\r\n3\r\n')
  t.match(text(e.finish()), /^-ERR dynoproxy: .*non-integer/, 'a non-integer piece is an error')
  const e2 = new SumMerge()
  feed(e2, 0, '-ERR first\r\n')
  feed(e2, 1, ':1\r\n')
  t.equal(text(e2.finish()), '-ERR first\r\n')
  const ok = new AllOkMerge()
  feed(ok, 0, '+OK\r\n')
  feed(ok, 1, '+OK\r\n')
  t.equal(text(ok.finish()), '+OK\r\n')
  const notOk = new AllOkMerge()
  feed(notOk, 0, '+OK\r\n')
  feed(notOk, 1, '-ERR no\r\n')
  t.equal(text(notOk.finish()), '-ERR no\r\n')
  const first = new FirstReplyMerge()
  feed(first, 1, '$2\r\nb1\r\n')
  feed(first, 0, '$2\r\na1\r\n')
  t.equal(text(first.finish()), '$2\r\na1\r\n', 'piece 0 wins whatever the order')
  t.equal(text(new FirstReplyMerge().finish()), '+OK\r\n', 'no reply at all: +OK')
})

t.test('DC_EACH_SAFE_QUORUM: a safe majority in every datacenter, against the per-DC model', async (t) => {
  const layouts: number[][] = [[1, 1], [2, 1], [3, 2], [1, 2, 3]]
  let checked = 0
  const wrong: string[] = []
  const small = ['+A\r\n', '+B\r\n', '-ERR e\r\n']
  for (const racksPerDc of layouts) {
    const total = racksPerDc.reduce((a, b) => a + b, 0)
    const dcOfPiece = Int32Array.from(racksPerDc.flatMap((n, d) => Array(n).fill(d)))
    const all: string[][] = []
    const walk = (prefix: string[]): void => {
      if (prefix.length === total) return void all.push(prefix)
      for (const a of small) walk([...prefix, a])
    }
    walk([])
    const r = rng(total)
    for (const seq of all) {
      // Pieces arrive in a shuffled order; seq[i] is piece i's reply.
      const order = seq.map((_, i) => i).sort(() => r(3) - 1)
      const m = new EachDcQuorumMerge(dcOfPiece, racksPerDc)
      let at = 0
      order.forEach((p, k) => {
        feed(m, p, seq[p]!)
        if (m.decided && at === 0) at = k + 1
      })
      // Model: each DC decides on its own replies, in arrival order; the first DC to fail fails the request.
      const perDc = racksPerDc.map((_, d) => order.filter((p) => dcOfPiece[p] === d))
      const decisions = perDc.map((ps) => {
        const res = quorumModel(ps.map((p) => seq[p]!), true)
        const succeeded = !res.answer.startsWith('-')
        return { when: order.indexOf(ps[res.at - 1]!) + 1, succeeded, answer: res.answer }
      })
      const failures = decisions.filter((d) => !d.succeeded).map((d) => d.when)
      const wantAt = failures.length > 0 ? Math.min(...failures) : Math.max(...decisions.map((d) => d.when))
      const wantAnswer = failures.length > 0 ? NO_QUORUM : decisions[0]!.answer
      const got = text(m.finish())
      if (at !== wantAt || got !== wantAnswer) wrong.push(`${racksPerDc} ${JSON.stringify(seq)} order ${order}: at ${at} ${got.trim()}, want ${wantAt} ${wantAnswer.trim()}`)
      checked++
    }
  }
  t.same(wrong.slice(0, 10), [], `${checked} sequences over ${layouts.length} layouts`)
})

t.test('memcached flush_all: all OK, noreply silent; an error is the answer', async (t) => {
  const silent = new MemcacheAllOkMerge(true)
  silent.part(0, Buffer.from('OK\r\n'), 0, 4, false)
  t.equal(silent.finish().length, 0, 'flush_all noreply: nothing')
  const loud = new MemcacheAllOkMerge(false)
  loud.part(0, Buffer.from('OK\r\n'), 0, 4, false)
  t.equal(text(loud.finish()), 'OK\r\n')
  loud.part(1, Buffer.from('ERROR\r\n'), 0, 7, true)
  t.equal(text(loud.finish()), 'ERROR\r\n')
})

