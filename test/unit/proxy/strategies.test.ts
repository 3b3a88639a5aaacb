// The routing strategies as objects (routing/strategies.ts, routing/split.ts): which strategy a level picks, and the split strategy
// driven by a toy protocol's SplitRequest over scriptable mock peers — routing itself never looks at the bytes. No dynoproxy process.

import t from 'tap'
import { parseConfig, createClusterTable, topologyFromConfig } from '../../../src/config/index.ts'
import { ClusterRuntime } from '../../../src/proxy/routing/cluster-runtime.ts'
import { SPLIT, type SplitRequest } from '../../../src/proxy/routing/cluster-walk.ts'
import { strategyFor, ONE_OWNER, READ_FAILOVER, WRITE_FAILOVER, QUORUM, SAFE_QUORUM, EACH_DC_QUORUM } from '../../../src/proxy/routing/strategies.ts'
import { encReset, encRaw, scratch } from '../../../src/proxy/routing/scratch.ts'
import { RESP_ADAPTER } from '../../../src/proxy/protocol-adapter.ts'
import { ReplicationRing, PeerStates, PEER_UP } from '../../../src/peer/index.ts'
import { TopologyWriter } from '../../../src/topology/index.ts'
import { newPeerLink, type BackendServer, type Merge } from '../../../src/io/index.ts'
import { P } from '../../../src/stats/index.ts'
import { MockBackend, resp } from '../../helpers/mock-backend.ts'
import { FakeSession, respServer, stats, SETTINGS, ticker } from './backend-harness.ts'

const words = RESP_ADAPTER.words
// dc1 r1: this node (token 0), A, B; dc1 r2: C alone; dc2 r1: D alone.
const mocks = { local: await MockBackend.start('resp'), A: await MockBackend.start('dnode'), B: await MockBackend.start('dnode'), C: await MockBackend.start('dnode'), D: await MockBackend.start('dnode') }
t.teardown(() => Promise.all(Object.values(mocks).map((m) => m.close())))

function cluster(hints: boolean, readFailover: boolean, extraRacks = ''): { cl: ClusterRuntime; ring: ReplicationRing; st: Float64Array; links: BackendServer[] } {
  const yaml = `
n:
  datacenter: dc1
  rack: r1
  listen: 127.0.0.1:1
  dyn_listen: 127.0.0.1:2
  tokens: '0'
  read_failover: ${readFailover}
  max_hints: ${hints ? 1000 : 0}
  servers:
  - 127.0.0.1:${mocks.local.port}:1
  dyn_seeds:
  - 127.0.0.1:${mocks.A.port}:r1:dc1:1431655765
  - 127.0.0.1:${mocks.B.port}:r1:dc1:2863311530
  - 127.0.0.1:${mocks.C.port}:r2:dc1:0
  - 127.0.0.1:${mocks.D.port}:r1:dc2:0
${extraRacks}`
  const config = parseConfig(yaml, 'strategies.yml').pools[0]!
  const snap = topologyFromConfig(config)
  const topology = createClusterTable(snap)
  new TopologyWriter(topology).publish(snap)
  const states = PeerStates.create(snap.nodes.length)
  for (let i = 1; i < snap.nodes.length; i++) states.setState(i, PEER_UP)
  const ring = ReplicationRing.create(1 << 16)
  const local = respServer(mocks.local.port)
  const st = new Float64Array(1024)
  const links: BackendServer[] = []
  const cl = new ClusterRuntime(
    () => config,
    { ring: ring.sab, peerStates: states.sab, topology },
    null,
    st,
    snap.nodes.slice(1).map(() => stats()),
    (node, sameDc, s) => {
      const link = newPeerLink(node, sameDc, SETTINGS, 1 << 20, s, () => null)
      links.push(link)
      return link
    },
    () => local,
  )
  cl.current()
  ticker(t, [local, ...links])
  return { cl, ring, st, links }
}

t.test('strategyFor: one strategy object per level and shape', async (t) => {
  const { cl } = cluster(true, true)
  const view = cl.current()
  t.equal(strategyFor(cl, view, 'DC_ONE', false), READ_FAILOVER, 'DC_ONE read with read_failover on')
  t.equal(strategyFor(cl, view, 'DC_ONE', true), ONE_OWNER, 'DC_ONE write, no hint store attached: no write failover')
  // The pool attaches its hint store (hints.ts); strategyFor only asks whether there is one.
  cl.hints = { byNode: [], hold: () => false, sending: () => {} } as unknown as typeof cl.hints
  t.equal(strategyFor(cl, view, 'DC_ONE', true), WRITE_FAILOVER, 'DC_ONE write with hints on and two local racks')
  t.equal(strategyFor(cl, view, 'DC_QUORUM', false), QUORUM)
  t.equal(strategyFor(cl, view, 'DC_QUORUM', true), QUORUM)
  t.equal(strategyFor(cl, view, 'DC_SAFE_QUORUM', true), SAFE_QUORUM)
  t.equal(strategyFor(cl, view, 'DC_EACH_SAFE_QUORUM', false), EACH_DC_QUORUM, 'two datacenters')
  const off = cluster(false, false).cl
  t.equal(strategyFor(off, off.current(), 'DC_ONE', false), ONE_OWNER, 'read_failover off: Dynomite\'s one owner')
  t.equal(strategyFor(off, off.current(), 'DC_ONE', true), ONE_OWNER, 'no hints: no write failover')
})

/**
 * A toy protocol (not RESP, not memcached): request `TOY k1 k2 ...\n`, reply `v1 v2 ...\n`. Routing sends its pieces and merges
 * its replies through this SplitRequest only.
 */
class ToySplit implements SplitRequest {
  readonly replyKind = 0
  readonly group = -1
  readonly buf: Buffer
  readonly starts: number[] = []
  readonly ends: number[] = []
  readonly keys: string[]
  readonly write: boolean
  constructor(keys: string[], write: boolean) {
    this.keys = keys
    this.write = write
    this.buf = Buffer.from(keys.join(' '))
    let o = 0
    for (const k of keys) {
      this.starts.push(o)
      this.ends.push(o + k.length)
      o += k.length + 1
    }
  }
  get count(): number {
    return this.keys.length
  }
  keyBuf(): Uint8Array {
    return this.buf
  }
  keyStart(i: number): number {
    return this.starts[i]!
  }
  keyEnd(i: number): number {
    return this.ends[i]!
  }
  encodePiece(owner: Int32Array, node: number): void {
    encReset()
    const line = ['TOY', ...this.keys.filter((_, i) => owner[i] === node)].join(' ') + '\n'
    const b = Buffer.from(line)
    encRaw(b, 0, b.length)
  }
  newMerge(pieces: number): Merge {
    const keyPiece = [...Array(this.count).keys()].map((i) => scratchPiece(i))
    const parts: string[][] = Array.from({ length: pieces }, () => [])
    return {
      part(index: number, buf: Uint8Array, start: number, end: number): void {
        // The mock answers each piece with a RESP bulk of its values (the link frames replies; the toy merge only reads them).
        const text = Buffer.from(buf.subarray(start, end)).toString('latin1').split('\r\n')[1] ?? ''
        parts[index] = text.split(' ')
      },
      finish(): Uint8Array {
        const next = new Array(pieces).fill(0)
        return Buffer.from(keyPiece.map((p) => parts[p]![next[p]++]).join(' '))
      },
    }
  }
}

function scratchPiece(i: number): number {
  return scratch.keyPiece[i]!
}

/** Mock peer: answers a TOY piece with `val-<key>` per key. */
for (const m of [mocks.A, mocks.B, mocks.C, mocks.D]) {
  m.handler = (req) => {
    const line = req.raw.toString('latin1').trim().split(' ')
    return { reply: resp.bulk(line.slice(1).map((k) => `val-${k}`).join(' ')) }
  }
}

t.test('SPLIT: one piece per owner in this rack, merged in the client\'s key order; a write also reaches the other racks', async (t) => {
  const { cl, ring, st } = cluster(true, true)
  const view = cl.current()
  const local = view.localRacks[0]!
  // Hashes owned by A and B in this rack (ring: a hash belongs to the first token at or above it).
  const h = new Float64Array([1000, 1431655765 + 1000, 2000, 1431655765 + 5])
  const owners = [...h].map((x) => view.ownerInRack(local, x))
  t.equal(new Set(owners).size, 2, `two owners in this rack: ${owners}`)
  t.notOk(owners.includes(0), 'this node owns none of them (its mock speaks RESP, not the toy protocol)')
  const keys = ['a', 'b', 'c', 'd']
  const session = new FakeSession()
  const before = st[P.requests_split_total]!
  const aBefore = mocks.A.received.length
  const bBefore = mocks.B.received.length
  SPLIT.route(session, cl, view, new ToySplit(keys, false), h, words)
  await session.waitFor(['?'])
  t.equal(session.answers[0]!.text, 'val-a val-b val-c val-d', 'values back in the client\'s order')
  t.equal(st[P.requests_split_total], before + 1)
  const pieces = [...mocks.A.received.slice(aBefore), ...mocks.B.received.slice(bBefore)].map((r) => r.raw.toString('latin1').trim()).sort()
  t.same(pieces.length, 2, 'one piece per owner')
  t.ok(pieces.every((p) => p.startsWith('TOY ')), 'the protocol\'s own encoding')

  // A write: same pieces for the client; rack r2 (C, one node) gets one regrouped piece; dc2 (D) one through the ring.
  const cBefore = mocks.C.received.length
  const w = new FakeSession()
  SPLIT.route(w, cl, view, new ToySplit(keys, true), h, words)
  await w.waitFor(['?'])
  const until = Date.now() + 5000
  while (mocks.C.received.length === cBefore && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
  t.equal(mocks.C.received.at(-1)!.raw.toString('latin1'), 'TOY a b c d\n', 'the other local rack: every key in one piece')
  const remote: string[] = []
  ring.drain((_node, buf, s, e) => remote.push(Buffer.from(buf.subarray(s, e)).toString('latin1')))
  t.same(remote, ['TOY a b c d\n'], 'the remote DC: one piece through the cluster worker\'s ring')
})
