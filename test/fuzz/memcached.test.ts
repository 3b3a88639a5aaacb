// Fuzzes a real dynoproxy in front of two real memcached processes through its client port (text and meta commands, captured
// traffic, mutations) for a bounded time; after every batch: alive, RSS bounded, a raw memcached canary reads its own values back.
// It must never run past its time share (DYNOPROXY_FUZZ_SECONDS) nor leave a socket or process behind.

import t from 'tap'
import { startProxiedMemcached } from '../helpers/memcached.ts'
import { freePort } from '../helpers/free-port.ts'
import { BATCH, fileBudgetMs, fuzzConnection, fuzzFor, rssOf, seedNote, SEED } from './fuzz-kit.ts'
import { checkProcess, MemcachedCanary } from './canary.ts'
import { memcacheCounter, memcacheInputArb } from './memcache-inputs.ts'

t.setTimeout(fileBudgetMs() + 120_000)
t.comment(seedNote('memcached'))
const { proxy, port } = await startProxiedMemcached(t, { backends: 2, pool: { stats_listen: `127.0.0.1:${await freePort()}`, timeout: 4000 } })
const target = { pid: proxy.pid, output: () => proxy.output(), name: `dynoproxy :${port}` }

const canary = new MemcachedCanary(port, Array.from({ length: 16 }, (_, i) => `canary:${SEED}:${i}`))
await canary.start(t)
t.teardown(() => canary.close())
const baselineRss = rssOf(proxy.pid)
let peakRss = baselineRss

t.test('memcached client port', async (t) => {
  const stats = await fuzzFor(t, 'memcached', fileBudgetMs(), memcacheInputArb, (input) => fuzzConnection(port, input, memcacheCounter, 600), async (b) => {
    peakRss = Math.max(peakRss, checkProcess(t, target, baselineRss, `batch ${b}`))
    const wrong = await canary.verify()
    if (wrong !== null) t.fail(`canary (batch ${b}, seed ${SEED}): ${wrong}`)
  })
  t.comment(`memcached: ${JSON.stringify(stats)} in ${BATCH}-connection batches; RSS ${(baselineRss / 2 ** 20).toFixed(0)} -> peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`)
  t.ok(stats.connections >= BATCH, 'at least one batch ran')
  t.equal(stats.hangs, 0, 'no complete input left unanswered and open')
})
