// Fuzzes a real dynoproxy in front of two real redis-servers through its client port (RESP: table commands with random arguments,
// captured traffic, mutations) and its admin HTTP port, for a bounded time; after every batch: alive, RSS bounded, canary intact.
// It must never run past its time share (DYNOPROXY_FUZZ_SECONDS) nor leave a socket or process behind.

import t from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { BATCH, fileBudgetMs, fuzzConnection, fuzzFor, rssOf, seedNote, SEED } from './fuzz-kit.ts'
import { checkProcess, RedisCanary } from './canary.ts'
import { respCounter, respInputArb } from './resp-inputs.ts'
import { httpCounter, httpInputArb } from './http-inputs.ts'

t.setTimeout(fileBudgetMs() + 120_000)
t.comment(seedNote('resp-admin'))
const ADMIN_TOKEN = 'fuzz-admin-token-never-sent'
const { proxy, port, pool } = await startProxiedRedis(t, {
  backends: 2,
  pool: { admin_token: ADMIN_TOKEN, timeout: 4000 },
  env: { DYNOPROXY_ADMIN_RATE: '1000000:1000000' },
})
const statsPort = Number(/:(\d+)$/.exec(String(pool['stats_listen']))![1])
const target = { pid: proxy.pid, output: () => proxy.output(), name: `dynoproxy :${port}` }

const canary = new RedisCanary(port, Array.from({ length: 16 }, (_, i) => `canary:${SEED}:${i}`))
await canary.start()
t.teardown(() => canary.close())
const baselineRss = rssOf(proxy.pid)
const budget = fileBudgetMs()
let peakRss = baselineRss

async function afterBatch(where: string): Promise<void> {
  peakRss = Math.max(peakRss, checkProcess(t, target, baselineRss, where))
  const wrong = await canary.verify()
  if (wrong !== null) {
    // What the proxy says about itself then (a first failure's clue when it does not replay).
    const metrics = await fetch(`http://127.0.0.1:${statsPort}/metrics`).then((r) => r.text(), (e: Error) => e.message)
    const moving = metrics.split('\n').filter((l) => !l.startsWith('#') && !/ 0$/.test(l) && !/_bucket|histogram|latency/.test(l))
    t.fail(`canary (${where}, seed ${SEED}): ${wrong}`, { metrics: moving.join('\n').slice(0, 6000), output: proxy.output().slice(-3000) })
  }
  const ping = await fetch(`http://127.0.0.1:${statsPort}/ping`).then((r) => r.status, (e: Error) => e.message)
  if (ping !== 200) t.fail(`admin /ping answered ${ping} (${where}, seed ${SEED})`)
}

t.test('RESP client port', async (t) => {
  const stats = await fuzzFor(t, 'resp', budget * 0.7, respInputArb, (input) => fuzzConnection(port, input, respCounter, 600), (b) => afterBatch(`resp batch ${b}`))
  t.comment(`resp: ${JSON.stringify(stats)} in ${BATCH}-connection batches; RSS ${(baselineRss / 2 ** 20).toFixed(0)} -> peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'no complete input left unanswered and open')
})

t.test('admin HTTP port', async (t) => {
  const stats = await fuzzFor(t, 'admin', budget * 0.3, httpInputArb(statsPort), (input) => fuzzConnection(statsPort, input, httpCounter, 600), (b) => afterBatch(`admin batch ${b}`))
  t.comment(`admin: ${JSON.stringify(stats)}`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'no complete request left unanswered and open')
  const state = await (await fetch(`http://127.0.0.1:${statsPort}/state/get_state`)).text()
  t.match(state, /normal/i, 'no fuzz request changed the node state (it never had the token)')
})
