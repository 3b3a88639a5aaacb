// Admin API on a cluster node: /cluster_describe lists every node by DC and rack with its liveness; /peer/down|up|reset steer routing at once.
// It must never sleep: states are polled with deadlines.

import { existsSync } from 'node:fs'
import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 1 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  // An operator's /peer/down is checked the way Dynomite behaves: no write failover to another rack.
  pool: { write_failover: false },
})
const a = cluster.node('dc1', 'rack1', 0)
const sibling = cluster.node('dc1', 'rack1', 1)
/** Reads are GETs; /peer/... changes the node: a POST. */
const admin = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${a.statsPort}${path}`, { method: path.startsWith('/peer/') ? 'POST' : 'GET' })

interface Described { dcs: { name: string; racks: { name: string; servers: { name: string; state: string; local: boolean }[] }[] }[] }

t.test('/cluster_describe: every node, by datacenter and rack, with its state', async (t) => {
  const body = (await (await admin('/cluster_describe')).json()) as Described
  t.same(body.dcs.map((d) => d.name), ['dc1', 'dc2'])
  const servers = body.dcs.flatMap((d) => d.racks.flatMap((r) => r.servers.map((s) => ({ ...s, where: `${d.name}/${r.name}` }))))
  t.equal(servers.length, 4, 'four nodes')
  t.equal(servers.filter((s) => s.local).length, 1, 'exactly one is this node')
  await waitFor(async () => ((await (await admin('/cluster_describe')).json()) as Described).dcs.every((d) => d.racks.every((r) => r.servers.every((s) => s.state === 'normal'))), 15_000, 'every node normal')
  t.pass('all normal once the failure detector has seen them')
})

t.test('/peer/down makes a peer\'s keys fail at once; /peer/reset brings it back', async (t) => {
  const key = cluster.keysOwnedBy(sibling, 'adm:', 1)[0]!
  t.same(plain(await a.call('SET', key, 'v')), { ok: 'OK' }, 'forwarded to the sibling while it is up')
  const res = await admin(`/peer/down/${sibling.peerName}`)
  t.equal(res.status, 200)
  const started = Date.now()
  // Writes to its keys fail (reads fail over to another replica, see read-failover.test.ts).
  t.match(plain(await a.call('SET', key, 'v-while-down')), { err: /^ERR Peer:/ }, 'its keys: -ERR Peer')
  t.ok(Date.now() - started < 1000, 'at once, not after a timeout')
  const body = (await (await admin('/cluster_describe')).json()) as Described
  const state = body.dcs.flatMap((d) => d.racks.flatMap((r) => r.servers)).find((s) => s.name === sibling.peerName)?.state
  t.equal(state, 'down', 'described as down')
  t.equal((await admin('/peer/reset/all')).status, 200)
  // Served by the sibling again once the recovery grace is over (reads skip a node back from down for a moment, README); until then
  // another rack answers, which has the write made while the sibling was marked down (replicated, as Dynomite does).
  await waitFor(async () => plain(await a.call('GET', key)) === 'v', 15_000, 'the sibling to serve its key again after reset')
  t.pass('served again after reset')
  t.equal((await admin('/peer/down/10.9.9.9:1')).status, 404, 'an unknown peer is a 404')
})

t.test('/metrics counts requests per peer link', async (t) => {
  const key = cluster.keysOwnedBy(sibling, 'met:', 1)[0]!
  for (let i = 0; i < 5; i++) await a.call('SET', key, String(i))
  const text = await (await admin('/metrics')).text()
  const line = text.split('\n').find((l) => l.startsWith('dynoproxy_server_requests_total{') && l.includes(`peer="${sibling.peerName}"`))
  t.ok(line !== undefined, 'a peer-labelled request counter')
  t.ok(Number(line?.split(' ').pop()) >= 5, `at least the 5 forwarded SETs (${line})`)
  const info = (await (await admin('/info')).json()) as Record<string, number>
  t.ok(info['99_cross_zone_latency']! > 0 && info['average_cross_zone_latency']! > 0, `/info measures round trips to peers of this DC (${info['99_cross_zone_latency']} µs)`)
})

t.test('dashboard: the cluster as datacenters > racks > nodes with token ranges; a node marked down shows as down', { skip: existsSync('/usr/bin/chromium') ? false : '/usr/bin/chromium is not installed' }, async (t) => {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${a.statsPort}/dashboard`)
  const rows = async (): Promise<string[]> => page.$$eval('#ring tbody tr', (trs) => trs.map((r) => `${r.getAttribute('data-node')}|${r.getAttribute('data-state')}|${r.children[3]?.textContent ?? ''}`))
  // Waits are selectors: page-side functions would need DOM types and are blocked by the page's CSP.
  await page.waitForSelector('#ring tbody tr:nth-child(4)', { timeout: 15_000 })
  const first = await rows()
  t.equal(first.length, 4, 'four nodes listed')
  t.ok(first.some((r) => r.startsWith(`${sibling.peerName}|`) && /^\(\d+, \d+\]$/.test(r.split('|')[2]!)), 'rack1 nodes show their (prev, token] range')
  await admin(`/peer/down/${sibling.peerName}`)
  await page.waitForSelector(`#ring tr[data-node="${sibling.peerName}"][data-state="down"]`, { timeout: 15_000 })
  t.pass('the node marked down is shown down without a reload')
  await admin('/peer/reset/all')
})
