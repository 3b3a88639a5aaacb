// Probes over a link that is replaced while a PING is in flight (a node whose tokens moved gets a new identity, so a new link): the
// old link's PING is never answered, and the probe must not wait for it forever (the node stayed "unknown" on its peers).
import t from 'tap'
import { Probes } from '../../../src/cluster/probes.ts'
import { FailureDetector, FD_UP } from '../../../src/cluster/failure-detector.ts'
import { PeerStates } from '../../../src/peer/index.ts'
import { F_NONE } from '../../../src/protocol/failure/index.ts'
import type { BackendServer, Request } from '../../../src/io/index.ts'

const PONG = Buffer.from('+PONG\r\n')

/** A link that keeps what it was sent; `answer()` replies PONG to everything pending. */
function fakeLink(): { link: BackendServer; sent: Request[]; answer(): void } {
  const sent: Request[] = []
  const link = {
    send(req: Request) {
      sent.push(req)
    },
    checkTimeouts() {},
  } as unknown as BackendServer
  return {
    link, sent,
    answer() {
      for (const r of sent.splice(0)) {
        r.failure = F_NONE
        r.client?.replyArrived(r, PONG, 0, PONG.length)
      }
    },
  }
}

t.test('a replaced link: the probe starts over instead of waiting for the old link\'s PING', async (t) => {
  const detector = new FailureDetector(4, { intervalMs: 100, threshold: 8, acceptablePauseMs: 500, minStdDevMs: 100, upAfter: 2 })
  const states = PeerStates.create(4)
  const links: (BackendServer | null)[] = [null, null]
  const probes = new Probes({ memcache: false, links, detector, states, peerSlots: [], maxNodes: 4, name: (n) => `node${n}`, post: () => {} })
  const old = fakeLink()
  links[1] = old.link
  probes.all()
  t.equal(old.sent.length, 1, 'a PING went out on the old link')
  probes.all()
  t.equal(old.sent.length, 1, 'no second PING while one is in flight')
  // The slot's node changed: a new link, the old one closed with its PING unanswered.
  const fresh = fakeLink()
  links[1] = fresh.link
  probes.forget(1)
  probes.all()
  t.equal(fresh.sent.length, 1, 'the new link gets a PING at once')
  fresh.answer()
  probes.all()
  fresh.answer()
  probes.all()
  t.equal(detector.verdict(1), FD_UP, 'two answers: up')
  // The old link's answer arriving late says nothing about the slot's new node (and does not count as a heartbeat).
  const before = fresh.sent.length
  old.answer()
  probes.all()
  t.equal(fresh.sent.length, before, 'a late answer of the old link does not free the new probe early')
})
