// cancel(): a split request whose client left drains its pieces without merging them (its merge is let go at once), unless the
// merge has side effects (a memcached cas replicated after it stored); a decided quorum merges no late piece either. Pure: no sockets.
import t from 'tap'
import {
  acquireRequest, cancelRequest, completeLocally, newComposite, newPart, requestPoolStats, K_CLIENT, type Merge, type Request,
} from '../../../src/io/index.ts'

class CountingMerge implements Merge {
  parts = 0
  decided = false
  hasSideEffects?: boolean
  private readonly decideAfter: number
  constructor(sideEffects = false, decideAfter = Infinity) {
    if (sideEffects) this.hasSideEffects = true
    this.decideAfter = decideAfter
  }
  part(): void {
    this.parts++
    if (this.parts >= this.decideAfter) this.decided = true
  }
  finish(): Uint8Array {
    return Buffer.from('+OK\r\n')
  }
}

class Client {
  closed = false
  answers = 0
  queue: Request[] = []
  enqueue(req: Request): void {
    req.client = this
    req.refs++
    this.queue.push(req)
  }
  replyArrived(): void {
    this.answers++
  }
  requestFinished(): void {
    this.answers++
  }
}

const reply = Buffer.from('+OK\r\n')

t.test('a cancelled split request merges no piece and is released once every piece is back', async (t) => {
  const c = new Client()
  const merge = new CountingMerge()
  const parent = newComposite(c, merge, 3, -1, 0)
  const parts = [0, 1, 2].map((i) => newPart(parent, i))
  completeLocally(parts[0]!, reply)
  t.equal(merge.parts, 1, 'a piece before the client left is merged')
  c.closed = true
  cancelRequest(parent)
  t.equal(parent.merge, null, 'the merge (and what it copied) is let go at once')
  completeLocally(parts[1]!, reply)
  completeLocally(parts[2]!, reply)
  t.equal(merge.parts, 1, 'no piece merged after cancel()')
  t.equal(c.answers, 0, 'the gone client is never answered')
  t.equal(parent.pending, 0)
})

t.test('a merge with side effects still sees every piece after cancel()', async (t) => {
  const c = new Client()
  const merge = new CountingMerge(true)
  const parent = newComposite(c, merge, 2, -1, 0)
  const parts = [0, 1].map((i) => newPart(parent, i))
  cancelRequest(parent)
  completeLocally(parts[0]!, reply)
  completeLocally(parts[1]!, reply)
  t.equal(merge.parts, 2, 'both pieces reached part()')
  t.equal(c.answers, 0)
})

t.test('once a quorum decided, late pieces are not merged', async (t) => {
  const c = new Client()
  const merge = new CountingMerge(false, 2)
  const parent = newComposite(c, merge, 3, -1, 0)
  const parts = [0, 1, 2].map((i) => newPart(parent, i))
  completeLocally(parts[0]!, reply)
  completeLocally(parts[1]!, reply)
  t.equal(c.answers, 1, 'answered at the decision')
  completeLocally(parts[2]!, reply)
  t.equal(merge.parts, 2, 'the third piece was drained, not merged')
  t.equal(c.answers, 1, 'answered once')
})

t.test('cancel() of a plain request only detaches it', async (t) => {
  const before = requestPoolStats().allocated
  const req = acquireRequest(K_CLIENT)
  const c = new Client()
  c.enqueue(req)
  cancelRequest(req)
  t.equal(req.client, null)
  t.ok(requestPoolStats().allocated - before <= 1)
})
