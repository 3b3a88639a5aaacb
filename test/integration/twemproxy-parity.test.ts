// Key placement parity with twemproxy (nutcracker): same YAML, same backends, every hash and ketama/modula -> same owners.
// It must never compare placements from different backend lists: both proxies are pointed at the very same servers.

import t from 'tap'
import { stringify } from 'yaml'
import { onEachBackend, ownersOf } from '../helpers/backend-probe.ts'
import { startDynoproxy } from '../helpers/dynoproxy.ts'
import { freePort } from '../helpers/free-port.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { startTwemproxy } from '../helpers/twemproxy.ts'

const TWEMPROXY_HASHES = [
  'one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64', 'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins',
] as const

const backends = await Promise.all([startRedis(t), startRedis(t), startRedis(t)])
// Unweighted and weighted lists: ketama spreads points by weight, modula repeats servers by weight.
const serverLists = [
  backends.map((b) => `127.0.0.1:${b.port}:1`),
  backends.map((b, i) => `127.0.0.1:${b.port}:${[1, 3, 2][i]}`),
]
const keys = [
  ...Array.from({ length: 150 }, (_, i) => `parity:${i}`),
  ...Array.from({ length: 30 }, (_, i) => `{tag${i}}member`),
  'a', '', 'x'.repeat(300), '\u00e9t\u00e9', '{}empty-tag', '{unclosed', 'close}first{x}',
]

async function placeVia(port: number): Promise<number[]> {
  await onEachBackend(backends, [['FLUSHALL']])
  const conn = await RespConnection.connect(port)
  try {
    const replies = await conn.pipeline(keys.map((k) => ['SET', k, '1']), 15_000)
    const bad = replies.findIndex((r) => r.kind !== 'simple')
    if (bad >= 0) throw new Error(`SET ${JSON.stringify(keys[bad])} failed: ${JSON.stringify(replies[bad])}`)
  } finally {
    conn.destroy()
  }
  return ownersOf(backends, keys)
}

for (const distribution of ['ketama', 'modula'] as const) {
  for (const [li, servers] of serverLists.entries()) {
    t.test(`${distribution}, ${li === 0 ? 'equal' : 'unequal'} weights: every hash places keys like twemproxy`, async (t) => {
      // One pool per hash in one file, so each proxy starts once per test: both implementations serve many pools.
      const ports = await Promise.all(TWEMPROXY_HASHES.map(() => freePort()))
      const config: Record<string, Record<string, unknown>> = {}
      TWEMPROXY_HASHES.forEach((hash, i) => {
        config[`parity_${hash}`] = {
          listen: `127.0.0.1:${ports[i]}`,
          hash,
          distribution,
          hash_tag: '{}',
          redis: true,
          auto_eject_hosts: false,
          timeout: 2000,
          servers,
        }
      })
      const yamlText = stringify(config, { aliasDuplicateObjects: false })
      const twemproxy = await startTwemproxy(t, yamlText, ports)
      const expected: number[][] = []
      for (const port of ports) expected.push(await placeVia(port))
      await twemproxy.stop()
      // Same pools plus an admin port of its own (nutcracker takes its stats port on the command line instead).
      const statsListen = `127.0.0.1:${await freePort()}`
      const dynoConfig = Object.fromEntries(Object.entries(config).map(([name, pool]) => [name, { ...pool, stats_listen: statsListen }]))
      const dynoproxy = await startDynoproxy(t, { config: stringify(dynoConfig, { aliasDuplicateObjects: false }), port: ports })
      const got: number[][] = []
      for (const port of ports) got.push(await placeVia(port))
      await dynoproxy.stop()
      TWEMPROXY_HASHES.forEach((hash, h) => {
        const differing = keys.filter((_, i) => got[h]![i] !== expected[h]![i])
        const spread = [0, 1, 2].map((b) => expected[h]!.filter((o) => o === b).length)
        t.same(differing, [], `${hash}: same owner for all ${keys.length} keys`, { spread })
      })
    })
  }
}
