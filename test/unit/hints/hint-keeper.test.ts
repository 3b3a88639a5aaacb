// HintKeeper's decisions without sockets: what a failed replica write becomes (hint or not), and how replay replies move the queue.

import t from 'tap'
import { HintKeeper, RESP_HINT_WORDS, type HintTargets } from '../../../src/hints/index.ts'
import { acquireRequest, deliverReply, retainBytes, K_REPLICA, type BackendServer, type Request } from '../../../src/io/index.ts'
import { F_NONE, F_TIMEOUT } from '../../../src/protocol/failure/index.ts'
import { SERVER_BLOCK_SLOTS, S_PEER } from '../../../src/stats/index.ts'

const resp = (...args: string[]): Buffer => Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)

/** One target (node 1) whose link records what is sent on it. */
function setup(): { keeper: HintKeeper; st: Float64Array; sent: Request[]; targets: { up: boolean } } {
  const st = new Float64Array(SERVER_BLOCK_SLOTS)
  const sent: Request[] = []
  const conn = { send: (req: Request): void => void sent.push(req) }
  const link = { st, pick: () => conn } as unknown as BackendServer
  const state = { up: false }
  const targets: HintTargets = { linkOf: () => link, ready: () => state.up }
  const keeper = new HintKeeper(targets, { maxCount: 100, maxBytes: 1 << 20, maxAge: 60_000 }, RESP_HINT_WORDS, () => {})
  keeper.attach('node-1', 1, st)
  return { keeper, st, sent, targets: state }
}

/** A replica write to the keeper's queue that was sent (bytes retained), then answered `reply` with `failure`. */
function answered(keeper: HintKeeper, bytes: Buffer, reply: string, failure = F_NONE): void {
  const req = acquireRequest(K_REPLICA)
  req.hintQueue = keeper.store.queue('node-1')
  req.sentAt = 1
  retainBytes(req, bytes, 0, bytes.length)
  req.failure = failure
  const r = Buffer.from(reply)
  deliverReply(req, r, 0, r.length, reply.startsWith('-'))
}

t.test('what a failed replica write becomes', async (t) => {
  const { keeper, st } = setup()
  const q = keeper.store.queue('node-1')
  answered(keeper, resp('SET', 'k', 'v'), '+OK\r\n')
  t.equal(q.count, 0, 'stored: nothing kept')
  answered(keeper, resp('SET', 'k', 'v'), '-WRONGTYPE x\r\n')
  t.equal(q.count, 0, 'an error that is an answer: not kept')
  answered(keeper, resp('SET', 'k', 'v1'), '-ERR Storage: Connection refused\r\n')
  t.equal(q.count, 1, '"not stored": kept')
  answered(keeper, resp('SET', 'k', 'v2'), '-ERR Peer: Connection timed out\r\n', F_TIMEOUT)
  t.equal(q.count, 2, 'a timed-out SET (safe to apply twice): kept')
  answered(keeper, resp('INCR', 'n'), '-ERR Peer: Connection timed out\r\n', F_TIMEOUT)
  t.equal(q.count, 2, 'a timed-out INCR (it may have applied): not kept')
  t.equal(st[S_PEER.hints_queued], 2, 'the gauge follows')
  t.same(Buffer.from(q.bytesAt(1)), resp('SET', 'k', 'v2'), 'in order')
})

t.test('replay: in order once ready; an answer delivers, a failure stops and probes with one', async (t) => {
  const { keeper, st, sent, targets } = setup()
  const q = keeper.store.queue('node-1')
  for (let i = 0; i < 3; i++) answered(keeper, resp('SET', `k${i}`, 'v'), '-ERR Storage: down\r\n')
  keeper.tick(1000)
  t.equal(sent.length, 0, 'not ready: nothing sent')
  targets.up = true
  keeper.tick(1001)
  t.equal(sent.length, 3, 'ready: the batch goes')
  const reply = (req: Request, text: string, failure = F_NONE): void => {
    req.failure = failure
    const b = Buffer.from(text)
    deliverReply(req, b, 0, b.length, text.startsWith('-'))
  }
  reply(sent[0]!, '-WRONGTYPE x\r\n')
  t.equal(q.count, 2, 'an answer that is not "not stored" delivers the hint')
  reply(sent[1]!, '-ERR Storage: down\r\n')
  reply(sent[2]!, '+OK\r\n')
  // A reply behind a failure removes nothing: the queue only loses its head, in order (that hint is sent again later).
  t.equal(q.count, 2, 'after a failure, the later reply removes no hint out of order')
  t.equal(st[S_PEER.hints_replayed_total], 1)
  sent.length = 0
  keeper.tick(1002)
  t.equal(sent.length, 1, 'the next tick probes with one hint')
  reply(sent[0]!, '+OK\r\n')
  t.equal(q.count, 1, 'the probe delivered')
  sent.length = 0
  keeper.tick(1003)
  t.equal(sent.length, 1, 'then full pace: the rest')
  reply(sent[0]!, '+OK\r\n')
  t.equal(q.count, 0, 'every hint delivered')
  t.equal(st[S_PEER.hints_queued], 0)
})
