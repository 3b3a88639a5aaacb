// A cluster node whose requirepass its redis-server does not have: clients and the log are told the datastore refuses the proxy's AUTH,
// not that a peer is not connected. It must never leave a process running: startCluster stops every node and redis in teardown.

import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { startCluster } from '../helpers/cluster.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const cluster = await startCluster(t, { dcs: [{ name: 'dc1', racks: [{ name: 'r1', nodes: 2 }] }] })

t.test('a node given a requirepass its redis lacks: every key\'s error names the datastore refusing AUTH', async (t) => {
  // startCluster waits for every node to serve, so the mismatch comes by SIGHUP: then the node's datastore connections are dropped.
  for (const n of cluster.nodes) {
    const config = parse(readFileSync(n.proxy!.configPath, 'utf8')) as Record<string, Record<string, unknown>>
    for (const pool of Object.values(config)) pool['requirepass'] = 'pw'
    writeFileSync(n.proxy!.configPath, stringify(config))
    n.proxy!.kill('SIGHUP')
    await waitFor(async () => {
      const c = await RespConnection.connect(n.clientPort)
      try {
        return JSON.stringify(plain(await c.call(['AUTH', 'pw']))) === '{"ok":"OK"}'
      } finally {
        c.destroy()
      }
    }, 10_000, 'requirepass to apply')
    await n.redis.call('CLIENT', 'KILL', 'TYPE', 'normal')
  }
  const node = cluster.nodes[0]!
  const proxy = node.proxy!
  const c = await RespConnection.connect(node.clientPort, { t })
  t.same(plain(await c.call(['AUTH', 'pw'])), { ok: 'OK' })
  const errors = new Set<string>()
  await waitFor(async () => {
    errors.clear()
    for (let i = 0; i < 20; i++) {
      const r = plain(await c.call(['GET', `k${i}`])) as { err?: string } | null
      errors.add(r !== null && typeof r === 'object' && 'err' in r ? String(r.err) : JSON.stringify(r))
    }
    return [...errors].every((e) => /AUTH/.test(e))
  }, 15_000, 'an error naming the AUTH refusal', 200)
  // And it stays so once the failure detectors have seen each node's datastore refuse (rounds for 6 s, bounded).
  const until = Date.now() + 6000
  for (let round = 0; round < 2000 && Date.now() < until; round++) {
    for (let i = 0; i < 20; i++) {
      const r = plain(await c.call(['GET', `k${i}`])) as { err?: string } | null
      errors.add(r !== null && typeof r === 'object' && 'err' in r ? String(r.err) : JSON.stringify(r))
    }
  }
  t.comment([...errors].join('\n'))
  for (const e of errors) {
    t.notMatch(e, /Peer Node is not connected/, `not a peer's fault: ${e.slice(0, 120)}`)
    t.match(e, /AUTH|Connection closed by the datastore/, 'names the datastore')
  }
  await waitFor(() => /"msg":"the datastore refuses the proxy's AUTH/.test(proxy.output()), 10_000, 'the log line')
})
