// Seed providers on real processes: a node whose only seed source is a file (re-read when it changes), one using Dynomite's florida
// provider (an HTTP endpoint) and one using its DNS provider (TXT records from a resolver we run on loopback) each find the first
// node, gossip does the rest, and a write through any of them reaches every rack. Malformed seeds are logged and ignored.
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startCluster, waitForValue, type ClusterNode } from '../helpers/cluster.ts'
import { TxtDnsServer } from '../helpers/txt-dns-server.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-seeds-'))
const seedFile = path.join(dir, 'seeds')
writeFileSync(seedFile, '# no seeds yet\nnot-a-seed\n')
let floridaBody = ''
const florida = http.createServer((req, res) => {
  if (req.url !== '/REST/v1/admin/get_seeds') res.writeHead(404).end()
  else res.writeHead(200, { 'content-type': 'text/plain' }).end(floridaBody)
})
await new Promise<void>((resolve) => florida.listen(0, '127.0.0.1', resolve))
t.teardown(() => florida.close())
const floridaPort = (florida.address() as { port: number }).port
const dns = await TxtDnsServer.start(t)

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 1 }, { name: 'rack3', nodes: 1 }, { name: 'rack4', nodes: 1 }] }],
  seeds: () => [],
  deferStart: [1, 2, 3],
  pool: { seeds_refresh: 500 },
  nodePool: ({ rack }) =>
    rack === 'rack2' ? { dyn_seeds_file: seedFile }
    : rack === 'rack3' ? { dyn_seed_provider: 'florida_provider', dyn_seeds_url: `http://127.0.0.1:${floridaPort}/REST/v1/admin/get_seeds` }
    : rack === 'rack4' ? { dyn_seed_provider: 'dns_provider', dyn_seeds_dns: 'seeds.dynoproxy.test', dyn_seeds_dns_servers: [`127.0.0.1:${dns.port}`] }
    : {},
})
const [a, b, c, d] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
const seedOfA = `127.0.0.1:${a.peerPort}:rack1:dc1:${a.token}`

async function servers(n: ClusterNode): Promise<string[]> {
  const body = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { name: string }[] }[] }[] }
  return body.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => s.name))).sort()
}

t.test('file, florida and DNS seeds each find the first node; gossip joins everyone', async (t) => {
  floridaBody = `garbage|${seedOfA}\n`
  dns.records.set('seeds.dynoproxy.test', [seedOfA])
  await Promise.all([b.start(), c.start(), d.start()])
  // The file changes after the node started (written elsewhere, renamed over it): it is read again.
  writeFileSync(`${seedFile}.new`, `# the first node\n${seedOfA}\n`)
  renameSync(`${seedFile}.new`, seedFile)
  const all = cluster.nodes.map((n) => n.peerName).sort()
  for (const n of cluster.nodes) await waitFor(async () => JSON.stringify(await servers(n)) === JSON.stringify(all), 30_000, `${n.name} to list every node`)
  t.pass('every node lists all four')
  t.ok(dns.queries > 0, 'the DNS provider asked our resolver')
  t.match(b.output(), /seed provider: malformed seed ignored/, 'the file\'s garbage line was logged')
  t.match(c.output(), /seed provider: malformed seed ignored/, 'so was florida\'s')
  await cluster.waitReady()
  t.same(plain(await d.call('SET', 'seeded', 'yes')), { ok: 'OK' })
  for (const n of cluster.nodes) t.ok(await waitForValue(n.redis, 'seeded', 'yes', 10_000), `on ${n.name}'s datastore`)
})

t.test('a provider that fails keeps the seeds it had and says why once', async (t) => {
  florida.close()
  dns.records.delete('seeds.dynoproxy.test')
  await waitFor(() => /seed provider failed/.test(c.output()), 15_000, 'florida\'s failure logged')
  t.equal((c.output().match(/"provider":"florida","error"/g) ?? []).length, 1, 'logged once, not every refresh')
  t.same(await servers(c), cluster.nodes.map((n) => n.peerName).sort(), 'membership unchanged')
})
