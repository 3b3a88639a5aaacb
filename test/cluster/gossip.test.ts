// Gossip membership on real processes: nodes that each know one seed converge on the whole cluster and route by it; a node started
// later appears everywhere; a killed and restarted node rejoins with a newer version; a Dynomite GOSSIP_SYN frame is parsed and
// answered on a link that stays up; bad records (a live node's token, floods, garbage) are refused, counted, membership unchanged.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { startCluster, waitForValue, type ClusterNode } from '../helpers/cluster.ts'
import { RawPeer, resp } from '../helpers/raw-peer.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

interface Described { dcs: { name: string; racks: { name: string; servers: { name: string; state: string; client_port: number; tokens: string[] }[] }[] }[] }

// dc1: rack1 (2 nodes), rack2 (1); dc2: rack1 (1). Node i lists only node i-1 as seed (node 0 none); node 3 starts later.
const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  seeds: (_node, i) => (i === 0 ? [] : [i - 1]),
  deferStart: [3],
})
const [n0, n1, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]

async function describe(n: ClusterNode): Promise<Described> {
  return (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as Described
}
async function servers(n: ClusterNode): Promise<string[]> {
  return (await describe(n)).dcs.flatMap((d) => d.racks.flatMap((r) => r.servers.map((s) => s.name))).sort()
}
async function info(n: ClusterNode): Promise<{ gossip?: { version: number; refused: Record<string, number> } }> {
  return (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as { gossip?: { version: number; refused: Record<string, number> } }
}

t.test('partial seed lists converge: every running node knows every other', async (t) => {
  const want = [n0, n1, n2].map((n) => n.peerName).sort()
  for (const n of [n0, n1, n2]) {
    await waitFor(async () => JSON.stringify(await servers(n)) === JSON.stringify(want), 20_000, `${n.name} to list nodes 0-2`)
    t.same(await servers(n), want, `${n.name} lists all three`)
  }
  // Node 0 (no seeds) learned node 2 only through gossip, with its client port (token-aware clients need it).
  const d = await describe(n0)
  const s2 = d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers)).find((s) => s.name === n2.peerName)
  t.equal(s2?.client_port, n2.clientPort)
})

t.test('a node started later with one seed appears in every node\'s /cluster_describe', async (t) => {
  const started = Date.now()
  await n3.start()
  const up = Date.now()
  const want = cluster.nodes.map((n) => n.peerName).sort()
  const seen: number[] = []
  for (const n of cluster.nodes) {
    await waitFor(async () => JSON.stringify(await servers(n)) === JSON.stringify(want), 30_000, `${n.name} to list node 3`)
    seen.push(Date.now())
  }
  t.comment(`node 3: process up after ${up - started} ms; listed by every node ${Math.max(...seen) - started} ms after its start (${Math.max(...seen) - up} ms after it listened)`)
  await cluster.waitReady()
  // Routing uses the learned view: a write through the newest node lands on each rack's owner, and reads back through node 0.
  for (let i = 0; i < 20; i++) {
    const key = `gossip:${i}`
    t.same(plain(await n3.call('SET', key, `v${i}`)), { ok: 'OK' })
  }
  for (let i = 0; i < 20; i++) {
    const key = `gossip:${i}`
    await waitFor(async () => plain(await n0.call('GET', key)) === `v${i}`, 10_000, `${key} through node 0`)
    for (const [dc, rack] of [['dc1', 'rack1'], ['dc1', 'rack2'], ['dc2', 'rack1']] as const) {
      const owner = cluster.ownerOf(key, dc, rack)
      t.ok(await waitForValue(owner.redis, key, `v${i}`, 10_000), `${key} on ${owner.name}`)
    }
  }
})

t.test('a killed and restarted node rejoins with a newer version', async (t) => {
  let before = 0
  await waitFor(async () => (before = (await info(n2)).gossip?.version ?? 0) > 0, 10_000, 'node 2 to report its gossip version')
  await n2.kill()
  await n2.start()
  await waitFor(async () => ((await info(n2)).gossip?.version ?? 0) > before, 15_000, 'a newer version')
  const want = cluster.nodes.map((n) => n.peerName).sort()
  await waitFor(async () => JSON.stringify(await servers(n2)) === JSON.stringify(want), 20_000, 'node 2 to know everyone again')
  await cluster.waitReady()
  t.pass('node 2 is back in every view and serving')
})

t.test('a Dynomite GOSSIP_SYN frame is parsed and answered; the link keeps serving', async (t) => {
  const vectors = JSON.parse(readFileSync('/work/shared/vectors/dnode-frames.json', 'utf8')) as { frames: { scenario: string; hex: string; messages: { msgId: string; type: number }[] }[] }
  const frame = vectors.frames.find((f) => f.scenario === 'gossip-startup')!
  const peer = new RawPeer(n0.peerPort)
  t.teardown(() => peer.close())
  peer.socket.write(Buffer.from(frame.hex, 'hex'))
  for (const m of frame.messages) {
    await peer.until((s) => new RegExp(`   \\$2014\\$ ${m.msgId} 8 0 1 1 \\*1 a \\*\\d+\\r\\n`).test(s), `GOSSIP_SYN_REPLY to ${m.msgId}`)
  }
  t.ok(peer.text.includes(`$${n0.rack}$`) || peer.text.includes('rack1$'), 'the reply carries our records')
  const key = cluster.keysOwnedBy(n0, 'after-gossip')[0]!
  t.same(plain(await n0.call('SET', key, 'x')), { ok: 'OK' })
  t.equal(await peer.request(41, resp('GET', key)), '$1\r\nx\r\n', 'a request on the same link is still answered')
  t.notOk(peer.closed, 'the link stayed up')
  t.same(await servers(n0), cluster.nodes.map((n) => n.peerName).sort(), 'membership unchanged by Dynomite records')
  // The hello a node sends before gossiping: a GET Dynomite would answer from its datastore; dynoproxy says what it runs.
  t.equal(await peer.request(42, resp('GET', '\u0000dynoproxy:hello')), '$11\r\ndynoproxy 1\r\n')
})

t.test('bad gossip is refused and counted; membership unchanged', async (t) => {
  const want = cluster.nodes.map((n) => n.peerName).sort()
  const peer = new RawPeer(n0.peerPort)
  t.teardown(() => peer.close())
  const ts = Date.now() * 10
  // Node 1's token in dc1/rack1 from a new address, while node 1 is alive.
  const stolen = `dc1$rack1$${n1.token},${ts},4,127.0.0.9:7000:7001`
  const r1 = await peer.request(1, resp('DYNOPROXY.GOSSIP', stolen))
  t.match(r1, /^\$\d+\r\n/, 'answered with our records')
  // Node 1's address with other tokens.
  await peer.request(2, resp('DYNOPROXY.GOSSIP', `dc9$rack9$12345,${ts},4,127.0.0.1:${n1.peerPort}:${n1.clientPort}`))
  // Garbage, and a flood of records.
  await peer.request(3, resp('DYNOPROXY.GOSSIP', 'not|a,record'))
  const flood = Array.from({ length: 9000 }, (_, i) => `dc1$rackX$${i + 1},${ts},4,10.1.${i >> 8}.${i & 255}:1:2`).join('|')
  await peer.request(4, resp('DYNOPROXY.GOSSIP', flood))
  const bad = await peer.request(5, resp('DYNOPROXY.GOSSIP'))
  t.match(bad, /^-ERR/, 'a gossip request without records is refused')
  await waitFor(async () => {
    const r = (await info(n0)).gossip?.refused ?? {}
    return (r['token-owned'] ?? 0) >= 1 && (r['address-claimed'] ?? 0) >= 1 && (r['malformed'] ?? 0) >= 1 && (r['flood'] ?? 0) >= 1
  }, 15_000, 'the refusals counted in /info')
  t.same(await servers(n0), want, 'membership unchanged')
  const metrics = await (await fetch(`http://127.0.0.1:${n0.statsPort}/metrics`)).text()
  t.match(metrics, /gossip_records_refused_total\{reason="token-owned"\} [1-9]/)
  t.match(n0.output(), /gossip record refused/)
  t.notOk(peer.closed)
})
