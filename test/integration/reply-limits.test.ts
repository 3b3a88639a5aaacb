// client_reply_hard_limit / soft limit (Redis' client-output-buffer-limit) through a single node: a client that pipelines large GETs and
// never reads is disconnected once its unsent replies pass the limit, the process stays bounded, and other clients are unaffected.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection, encodeCommands } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const node = await startProxiedRedis(t, { backends: 1, workers: 1, pool: { client_reply_hard_limit: 16 * 1024 * 1024, client_reply_soft_limit: 4 * 1024 * 1024, client_reply_soft_seconds: 2 } })
const statsUrl = `http://${node.pool['stats_listen'] as string}/metrics`

async function metric(name: string): Promise<number> {
  const text = await (await fetch(statsUrl)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

t.test('a client that pipelines 2,000 GETs of 100 KB and never reads is cut off at the hard limit', async (t) => {
  await node.backends[0]!.call('SET', 'big', 'x'.repeat(100 * 1024))
  const before = rssMiB(node.proxy.pid)
  const hog = await RespConnection.connect(node.port, { t })
  hog.socket.pause()
  hog.write(encodeCommands(Array.from({ length: 2000 }, () => ['GET', 'big'])))
  await waitFor(async () => (await metric('client_output_limit_disconnects_total')) >= 1, 15_000, 'disconnected')
  hog.socket.resume()
  await hog.waitClosed(10_000)
  const after = rssMiB(node.proxy.pid)
  t.ok(after - before < 300, `RSS grew ${(after - before).toFixed(0)} MiB (2,000 x 100 KB = 195 MiB of replies asked)`)
  const other = await RespConnection.connect(node.port, { t })
  t.equal((plain(await other.call(['GET', 'big'])) as string).length, 100 * 1024, 'another client is served')
})

t.test('above the soft limit for longer than the soft seconds: cut off too', async (t) => {
  const before = await metric('client_output_limit_disconnects_total')
  const slow = await RespConnection.connect(node.port, { t })
  slow.socket.pause()
  // ~8 MiB of replies: over the 4 MiB soft limit, under the 16 MiB hard one; more trickles in so the proxy keeps flushing.
  slow.write(encodeCommands(Array.from({ length: 80 }, () => ['GET', 'big'])))
  const started = Date.now()
  for (let i = 0; i < 40 && (await metric('client_output_limit_disconnects_total')) === before; i++) {
    slow.write(encodeCommands([['GET', 'big']]))
    await new Promise((r) => setTimeout(r, 200))
  }
  t.equal(await metric('client_output_limit_disconnects_total'), before + 1, 'disconnected')
  t.ok(Date.now() - started >= 1500, 'not before the soft seconds')
})
