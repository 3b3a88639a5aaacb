// Node states through the admin API change what real clients get from a real proxy (STANDBY, WRITES_ONLY with held writes, RESUMING, NORMAL), and /metrics counts that traffic exactly.
// It must never assert on timing beyond "not answered yet": waits are conditions with deadlines.

import t from 'tap'
import { createRequire } from 'node:module'
import { startDynoproxy, defaultPool } from '../helpers/dynoproxy.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { RespConnection, callOnce } from '../helpers/resp-connection.ts'
import { waitFor } from '../helpers/wait-for.ts'

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string> }[] }
// The package ships no types.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]

const STATE_ERROR = "ERR Dynomite: Dynomite's current state does not allow this request"

async function get(port: number, path: string, method = 'GET'): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method })
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`)
  return r.text()
}

const backends = await Promise.all([startRedis(t), startRedis(t)])
const [port, admin] = await Promise.all([freePort(), freePort()])
await startDynoproxy(t, {
  config: { states: { ...defaultPool(port, backends), stats_listen: `127.0.0.1:${admin}` } },
  workers: 2,
  env: { DYNOPROXY_TEST_HOOKS: '1' },
})
await waitFor(async () => (await get(admin, '/ping')) === 'OK\r\n', 5000, 'admin API')

/** The value of a key as stored in whichever backend has it (null when none does). */
async function stored(key: string): Promise<string | null> {
  for (const b of backends as RedisServer[]) {
    const r = await b.call('GET', key)
    if (r.kind === 'bulk' && r.value !== null) return r.value.toString()
  }
  return null
}

async function setState(s: string): Promise<void> {
  t.equal(await get(admin, `/state/${s}`, 'POST'), 'OK\r\n')
}

t.test('STANDBY refuses reads and writes with Dynomite\'s error; the proxy still answers PING', async (t) => {
  t.same(await callOnce(port, ['SET', 'sb:k', 'before']), { kind: 'simple', value: 'OK' })
  await setState('standby')
  t.equal(await get(admin, '/state/get_state'), 'State: STANDBY\n')
  t.same(await callOnce(port, ['GET', 'sb:k']), { kind: 'error', value: STATE_ERROR })
  t.same(await callOnce(port, ['SET', 'sb:k', 'during']), { kind: 'error', value: STATE_ERROR })
  t.same(await callOnce(port, ['PING']), { kind: 'simple', value: 'PONG' })
  const c = await RespConnection.connect(port, { t })
  const tx = await c.pipeline([['MULTI'], ['SET', 'sb:k', 'tx'], ['EXEC']])
  t.same(tx[0], { kind: 'simple', value: 'OK' })
  t.same(tx[1], { kind: 'error', value: STATE_ERROR })
  t.match(tx[2], { kind: 'error', value: /^EXECABORT/ }, 'the refused command aborts the transaction')
  c.destroy()
  t.equal(await stored('sb:k'), 'before', 'no write reached the datastore')
  await setState('normal')
  t.same(await callOnce(port, ['GET', 'sb:k']), { kind: 'bulk', value: Buffer.from('before') })
})

t.test('WRITES_ONLY refuses reads and holds writes in order; RESUMING sends them, then NORMAL', async (t) => {
  await setState('writes_only')
  t.same(await callOnce(port, ['GET', 'wo:a']), { kind: 'error', value: STATE_ERROR })
  t.match(await callOnce(port, ['MSET', 'wo:x', '1', 'wo:y', '2', 'wo:z', '3', 'wo:w', '4']), { kind: 'error' }, 'a write over several backends cannot be held')
  const c = await RespConnection.connect(port, { t })
  c.send(['SET', 'wo:a', 'first'], ['INCR', 'wo:n'], ['APPEND', 'wo:a', '-second'], ['GET', 'wo:a'], ['INCR', 'wo:n'])
  await t.rejects(c.read(1, 300), 'no reply while the writes are held')
  const info = JSON.parse(await get(admin, '/info'))
  t.equal(info.states.writes_held, 4, 'four writes held (the GET was refused)')
  t.equal(await stored('wo:a'), null, 'nothing reached the datastore yet')
  await setState('resuming')
  const replies = await c.read(5, 5000)
  t.same(replies, [
    { kind: 'simple', value: 'OK' },
    { kind: 'integer', value: 1n },
    { kind: 'integer', value: 12n },
    { kind: 'error', value: STATE_ERROR },
    { kind: 'integer', value: 2n },
  ], 'replies in request order, the held writes applied in order')
  c.destroy()
  t.equal(await stored('wo:a'), 'first-second')
  await waitFor(async () => (await get(admin, '/state/get_state')) === 'State: NORMAL\n', 3000, 'RESUMING to become NORMAL')
  t.same(await callOnce(port, ['GET', 'wo:n']), { kind: 'bulk', value: Buffer.from('2') })
  const m = await get(admin, '/metrics')
  t.match(m, /^dynoproxy_writes_held_total\{pool="states"\} 4$/m)
  t.match(m, /^dynoproxy_writes_held\{pool="states"\} 0$/m)
  t.match(m, /^dynoproxy_node_state\{state="NORMAL"\} 1$/m)
})

/** Every sample line of the exposition format: name, optional labels, a number. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*")*\})? (?:NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/

async function scrape(): Promise<{ text: string; value: (name: string, labels?: Record<string, string>) => number }> {
  const text = await get(admin, '/metrics')
  const families = parsePrometheus(text)
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const f = families.find((x) => x.name === `dynoproxy_${name}`)
    if (f === undefined) throw new Error(`no family dynoproxy_${name}`)
    let sum = 0
    for (const m of f.metrics) if (Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) sum += Number(m.value)
    return sum
  }
  return { text, value }
}

/** A histogram's series for one label set, read from the text (the parser above merges histogram label sets). */
function histogram(text: string, name: string, labels: string): { buckets: [number, number][]; count: number; sum: number } {
  const esc = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const buckets = [...text.matchAll(new RegExp(`^dynoproxy_${name}_bucket\\{${esc}${labels === '' ? '' : ','}le="([^"]+)"\\} (\\S+)$`, 'gm'))].map(
    (m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])] as [number, number],
  )
  const one = (suffix: string): number => Number(new RegExp(`^dynoproxy_${name}_${suffix}${labels === '' ? '' : `\\{${esc}\\}`} (\\S+)$`, 'm').exec(text)?.[1])
  return { buckets, count: one('count'), sum: one('sum') }
}

t.test('/metrics parses and its counters match the traffic sent', async (t) => {
  // Start the latency histograms afresh, so the count below is this test's alone.
  t.equal(await get(admin, '/historeset', 'POST'), 'OK\r\n')
  const before = await scrape()
  const lat0 = histogram(before.text, 'request_latency_seconds', 'pool="states"')
  t.equal(lat0.count, 0, '/historeset emptied the latency histograms')
  const size0 = histogram(before.text, 'request_size_bytes', '')
  const c = await RespConnection.connect(port, { t })
  const cmds: string[][] = []
  for (let i = 0; i < 30; i++) cmds.push(['SET', `m:${i}`, 'v'.repeat(100)])
  for (let i = 0; i < 20; i++) cmds.push(['GET', `m:${i}`])
  for (let i = 0; i < 5; i++) cmds.push(['PING'])
  const replies = await c.pipeline(cmds)
  t.equal(replies.filter((r) => r.kind === 'error').length, 0)
  c.destroy()
  // Latency is merged from the workers' histograms and cached for 200 ms: wait for it to catch up.
  const after = await waitFor(async () => {
    const s = await scrape()
    return histogram(s.text, 'request_latency_seconds', 'pool="states"').count - lat0.count >= 50 ? s : null
  }, 5000, 'latency histogram to count the requests')
  for (const line of after.text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
    if (!SAMPLE.test(line)) t.fail(`not exposition format: ${line}`)
  }
  const d = (name: string, labels?: Record<string, string>): number => after.value(name, labels) - before.value(name, labels)
  t.equal(d('requests_total', { pool: 'states' }), 55)
  t.equal(d('write_requests_total'), 30)
  t.equal(d('read_requests_total'), 20)
  t.equal(d('requests_local_total'), 5, 'PING is answered by the proxy')
  t.equal(d('command_requests_total', { family: 'string' }), 50)
  t.equal(d('command_requests_total', { family: 'connection' }), 5)
  t.equal(d('server_requests_total'), 50, 'fifty requests reached the backends')
  t.ok(d('server_bytes_out_total') >= 30 * 100, 'SET values went out')
  t.ok(d('client_bytes_in_total') >= 30 * 100)
  const lat = histogram(after.text, 'request_latency_seconds', 'pool="states"')
  t.equal(lat.count - lat0.count, 50, 'latency counted for the backend-answered requests')
  t.equal(lat.buckets.at(-1)?.[1], lat.count, '+Inf bucket equals the count')
  t.ok(lat.buckets.every((b, i) => i === 0 || b[1] >= lat.buckets[i - 1][1]), 'buckets are cumulative')
  const size = histogram(after.text, 'request_size_bytes', '')
  t.equal(size.count - size0.count, 55)
  const at256 = (h: typeof size): number => h.buckets.find((b) => b[0] === 256)?.[1] ?? NaN
  t.equal(at256(size) - at256(size0), 55, 'every request is under 256 bytes')
  t.ok(after.value('worker_event_loop_delay_p99_seconds', { worker: '1' }) >= 0)
  t.match(after.text, /^dynoproxy_worker_heap_used_bytes\{worker="0"\} \d+/m)
})

t.test('worker restarts are counted and the counters survive the restart', async (t) => {
  const before = await scrape()
  const c = await RespConnection.connect(port, { t })
  c.send(['DYNOPROXY.CRASH', 'WORKER'])
  await c.waitClosed(5000)
  const after = await waitFor(async () => {
    const s = await scrape()
    return s.value('worker_restarts_total') === 1 && s.value('workers') === 2 ? s : null
  }, 5000, 'the worker to restart')
  t.ok(after.value('requests_total') >= before.value('requests_total'), 'a crashed worker keeps its counts')
})
