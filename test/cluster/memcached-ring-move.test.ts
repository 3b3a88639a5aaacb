// A memcached pool's ring move on real processes (POST /ring/move): node 1 of a rack of two moves its token to the three-quarter point
// (a leave: its items stored on node 0 in add mode; handoff_grace; a join at the new token: node 0's items of the new range copied
// back). Every item, with its flags, sits on its owner under the new token map and reads back through node 1.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { storage } from '../helpers/memcached-connection.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { rackTokens, ownerIndex, keyHash } from '../helpers/cluster-ring.ts'

const KEYS = 1000
const hintsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-mc-ring-move-'))
t.teardown(() => fs.rmSync(hintsDir, { recursive: true, force: true }))
const cluster = await startCluster(t, {
  datastore: 'memcached',
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  pool: { handoff_grace: 2000 },
  nodePool: ({ index }) => (index === 1 ? { hints_dir: hintsDir } : {}),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]
const [T0, T1] = rackTokens(2) as [number, number]
const NEW = T0 + 3 * 2 ** 30
interface Info { gossip?: { move?: { phase: string; last_error: string } } }
const info = async (n: ClusterNode): Promise<Info> => (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as Info

/** The item on a node's memcached itself: "value flags", or null. */
async function item(n: ClusterNode, k: string): Promise<string | null> {
  const r = await n.memcached.call(`mg ${k} v f\r\n`)
  const m = /^VA \d+ f(\d+)/.exec(r.head)
  if (m === null) return null
  const body = r.raw.toString('latin1')
  return `${body.slice(body.indexOf('\r\n') + 2, body.length - 2)} ${m[1]}`
}

t.test('node 1 moves its token: every item on its new owner, flags kept', async (t) => {
  const keys = Array.from({ length: KEYS }, (_, i) => `mrm:${i}`)
  let stored = 0
  for (const [i, k] of keys.entries()) if ((await n0.mc(storage('set', k, `v${i}`, { flags: i % 5, exptime: 0 }))).head === 'STORED') stored++
  t.equal(stored, KEYS, 'filled through node 0')
  const gained = keys.filter((k) => ownerIndex([T0, T1], keyHash(k)) === 0 && ownerIndex([T0, NEW], keyHash(k)) === 1)
  t.ok(gained.length > KEYS / 8, `node 1 gains a real part of node 0's range (${gained.length} items)`)
  t.equal((await Promise.all(gained.map((k) => item(n1, k)))).filter((v) => v !== null).length, 0, 'none of them on node 1 before')
  const started = Date.now()
  const res = await fetch(`http://127.0.0.1:${n1.statsPort}/ring/move?token=${NEW}`, { method: 'POST' })
  t.equal(res.status, 200, await res.text())
  await waitFor(async () => {
    const m = (await info(n1)).gossip?.move
    if (m?.phase === 'failed') throw new Error(`the move failed: ${m.last_error}`)
    return m?.phase === 'done'
  }, 60_000, 'node 1 to finish its move').catch((err: Error) => {
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  t.comment(`memcached move: ${(Date.now() - started) / 1000} s`)
  let wrong = 0
  const samples: string[] = []
  for (const [i, k] of keys.entries()) {
    const owner = ownerIndex([T0, NEW], keyHash(k)) === 0 ? n0 : n1
    const got = await item(owner, k)
    const via = await n1.mc(`get ${k}\r\n`)
    if (got !== `v${i} ${i % 5}` || !via.raw.toString('latin1').includes(`v${i}\r\n`)) {
      wrong++
      if (samples.length < 5) samples.push(`${k}: owner has ${JSON.stringify(got)}, via node 1 ${JSON.stringify(via.head)}`)
    }
  }
  t.equal(wrong, 0, `every item on its owner under the new map, flags kept, read through node 1 ${samples.join(' ')}`)
  t.match(fs.readFileSync(path.join(hintsDir, 'dyn_o_mite.tokens.json'), 'utf8'), `"${NEW}"`, 'the new token is kept in hints_dir')
})
