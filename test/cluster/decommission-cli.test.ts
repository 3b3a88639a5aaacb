// `dynoproxy -c FILE --decommission`: the command asks the running node of that config to leave (its admin port), follows the
// hand-over and exits 0 once the node reads left; its keys stay readable through the rack's other node. Refusals and a node that
// does not answer end with exit 1 and a message; bad arguments with exit 2.
import t from 'tap'
import { execFile } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { freePort } from '../helpers/free-port.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const node = path.join(root, 'node_modules', '.bin', 'node')
const cli = path.join(root, 'src', 'cli.ts')

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(node, [cli, ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, out: stdout + stderr })
    })
  })
}

const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  pool: { handoff_grace: 2000 },
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]
t.setTimeout(240_000)

t.test('--decommission: the node leaves, its keys stay readable through the other node', async (t) => {
  const c = await n0.connect()
  const keys = Array.from({ length: 500 }, (_, i) => `dc:${i}`)
  await c.pipeline(keys.map((k) => ['SET', k, `v-${k}`]), 30_000)
  const mine = keys.filter((k) => cluster.ownerOf(k, 'dc1', 'rack1') === n1)
  t.ok(mine.length > 50, `node 1 owns ${mine.length} of the keys`)
  const r = await run(['-c', n1.proxy!.configPath, '--decommission', '--timeout', '150'])
  t.equal(r.code, 0, `exit 0 (output: ${r.out.slice(-600)})`)
  t.match(r.out, /left the ring/, 'says the node left')
  t.match(r.out, /hand-over/, 'showed the hand-over progress')
  const d = (await (await fetch(`http://127.0.0.1:${n0.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { port: number; node_state: string }[] }[] }[] }
  t.ok(d.dcs[0]!.racks[0]!.servers.some((s) => s.node_state === 'left'), 'node 0 lists node 1 as left')
  const values = (await c.pipeline(mine.map((k) => ['GET', k]), 30_000)).map(plain)
  t.equal(values.filter((v, i) => v !== `v-${mine[i]}`).length, 0, 'every key node 1 owned reads back through node 0')
  const again = await run(['-c', n1.proxy!.configPath, '--decommission'])
  t.equal(again.code, 1, 'a second decommission: exit 1')
  t.match(again.out, /refused to leave .*left the ring already/, 'and says why')
})

t.test('--decommission of a node that is not running, and bad arguments', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-decommission-'))
  const file = path.join(dir, 'down.yml')
  const [client, peer, stats] = [await freePort(), await freePort(), await freePort()]
  writeFileSync(file, `dyn_o_mite:\n  listen: 127.0.0.1:${client}\n  dyn_listen: 127.0.0.1:${peer}\n  stats_listen: 127.0.0.1:${stats}\n  datacenter: dc1\n  rack: rack1\n  tokens: '1'\n  servers:\n    - 127.0.0.1:6379:1\n`)
  const down = await run(['-c', file, '--decommission'])
  t.equal(down.code, 1, 'exit 1')
  t.match(down.out, /did not answer .*is it running with this config/, 'names the admin port that did not answer')
  const single = path.join(dir, 'single.yml')
  writeFileSync(single, `alpha:\n  listen: 127.0.0.1:${client}\n  stats_listen: 127.0.0.1:${stats}\n  servers:\n    - 127.0.0.1:6379:1\n`)
  const notCluster = await run(['-c', single, '--decommission'])
  t.equal(notCluster.code, 2, 'a pool that is not a cluster node: exit 2')
  t.match(notCluster.out, /not a cluster node/, 'and says so')
  const badTimeout = await run(['-c', file, '--decommission', '--timeout', 'soon'])
  t.equal(badTimeout.code, 2, 'a bad --timeout: exit 2')
  t.match(badTimeout.out, /--timeout must be a positive number/, 'and says so')
  const badPool = await run(['-c', file, '--decommission', '--pool', 'nope'])
  t.equal(badPool.code, 2, 'an unknown --pool: exit 2')
  t.match(badPool.out, /no pool named 'nope'/, 'and says so')
})
