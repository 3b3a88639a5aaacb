// CLIENT TRACKING on a cluster node: a RESP3 client of node A reads keys owned by A and by the other node of its rack; writes through
// any node (of its rack, or of the other rack) invalidate exactly the keys it read, as pushes; BCAST with a prefix hears writes made
// anywhere; a rack peer that restarts makes the clients drop their whole cache (writes there may have gone unheard).
import t from 'tap'
import type { Test } from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { RawPeer, resp } from '../helpers/raw-peer.ts'

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] }],
})
const a = cluster.node('dc1', 'rack1', 0)
const b = cluster.node('dc1', 'rack1', 1)
const c2 = cluster.node('dc1', 'rack2', 0)

async function tracker(t: Test, node: ClusterNode, ...opts: string[]): Promise<RespConnection> {
  const c = await RespConnection.connect(node.clientPort, { t })
  await c.call(['HELLO', '3'])
  t.same(plain(await c.call(['CLIENT', 'TRACKING', 'ON', ...opts])), { ok: 'OK' })
  return c
}

t.test('default mode: keys owned by either node of the rack are invalidated by writes through any node', async (t) => {
  const c = await tracker(t, a)
  const mine = cluster.keysOwnedBy(a, 'tr:a', 3)
  const theirs = cluster.keysOwnedBy(b, 'tr:b', 3)
  const w1 = await RespConnection.connect(b.clientPort, { t })
  for (const k of [...mine, ...theirs]) await w1.call(['SET', k, 'v1'])
  for (const k of [...mine, ...theirs]) t.equal(plain(await c.call(['GET', k])), 'v1')
  // Through the other rack's node: replication brings the write to both datastores of rack1.
  const w2 = await RespConnection.connect(c2.clientPort, { t })
  await w2.call(['SET', theirs[0]!, 'v2'])
  await w2.call(['SET', mine[1]!, 'v2'])
  await w2.call(['SET', 'tr:unread', 'x'])
  const got = new Set<string>()
  for (const p of (await c.read(2, 10_000)).map(plain)) {
    const keys = (p as { push: [string, string[]] }).push[1]
    for (const k of keys) got.add(k)
  }
  t.same([...got].sort(), [theirs[0]!, mine[1]!].sort(), 'the two written keys that were read, from both nodes')
  await new Promise((r) => setTimeout(r, 500))
  t.same(plain(await c.call(['PING'])), { ok: 'PONG' }, 'nothing else')
})

t.test('BCAST with a prefix hears writes on every node of the rack', async (t) => {
  const c = await tracker(t, a, 'BCAST', 'PREFIX', 'bc:')
  const w = await RespConnection.connect(c2.clientPort, { t })
  const keys = [...cluster.keysOwnedBy(a, 'bc:a', 1), ...cluster.keysOwnedBy(b, 'bc:b', 1)]
  for (const k of keys) await w.call(['SET', k, 'x'])
  await w.call(['SET', 'other:1', 'x'])
  const got = new Set<string>()
  while (got.size < 2) for (const p of (await c.read(1, 10_000)).map(plain)) for (const k of (p as { push: [string, string[]] }).push[1]) got.add(k)
  t.same([...got].sort(), [...keys].sort())
})

t.test('a rack peer that restarts: tracking clients drop their whole cache', async (t) => {
  const c = await tracker(t, a)
  const k = cluster.keysOwnedBy(b, 'rs', 1)[0]!
  await b.call('SET', k, 'v')
  t.equal(plain(await c.call(['GET', k])), 'v')
  await b.restart()
  const p = plain((await c.read(1, 15_000))[0]!) as { push: [string, unknown] }
  t.equal(p.push[0], 'invalidate')
  t.equal(p.push[1], null, 'a flush (null key list): the cache is dropped')
})

t.test('bad peer requests: a malformed invalidation poll or purge gets an error reply, and the link keeps serving', async (t) => {
  const peer = new RawPeer(a.peerPort)
  t.teardown(() => peer.close())
  t.match(await peer.request(1, resp('DYNOPROXY.INVALIDATIONS', 'abc')), /^-ERR Peer: DYNOPROXY.INVALIDATIONS <since> must be an integer/)
  t.match(await peer.request(2, resp('DYNOPROXY.INVALIDATIONS')), /^-ERR Peer: malformed request payload/)
  t.match(await peer.request(3, resp('DYNOPROXY.PURGE', '0', '10', '1', '5', '4')), /^-ERR dynoproxy range: invalid hash range/)
  t.match(await peer.request(4, resp('DYNOPROXY.INVALIDATIONS', '-1')), /^\*1\r\n:\d+\r\n/, 'a position request is answered at once')
  t.notOk(peer.closed)
})
