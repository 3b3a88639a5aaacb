// The admin API over HTTP against a real proxy and real redis-servers: Dynomite's endpoint bodies, /info fields, /peer routing, authorisation and limits.
// It must never bind beyond loopback except the one 0.0.0.0 listener that proves off-loopback state changes are refused, and never reach it but through 127.0.0.1.

import os from 'node:os'
import nodeHttp from 'node:http'
import t from 'tap'
import { startDynoproxy, defaultPool } from '../helpers/dynoproxy.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { callOnce } from '../helpers/resp-connection.ts'
import { waitFor, withDeadline } from '../helpers/wait-for.ts'

type Http = { status: number; body: string; type: string }

async function http(port: number, path: string, init: RequestInit = {}): Promise<Http> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, init)
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' }
}

/** One request with headers fetch would not send as given (Host, Origin, Sec-Fetch-Site). */
function raw(port: number, path: string, method: string, headers: Record<string, string>): Promise<Http> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({ host: '127.0.0.1', port, path, method, headers: { connection: 'close', ...headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] ?? '' }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** State changes are POSTs (a GET answers 405 unless it carries the admin_token). */
function post(port: number, path: string, init: RequestInit = {}): Promise<Http> {
  return http(port, path, { ...init, method: 'POST' })
}

const [b0, b1] = await Promise.all([startRedis(t), startRedis(t)])
const s0 = `127.0.0.1:${b0.port}`
const s1 = `127.0.0.1:${b1.port}`

async function proxyWithAdmin(pool: Record<string, unknown>, env: Record<string, string> = {}, workers = 2) {
  const [port, admin] = await Promise.all([freePort(), freePort()])
  const proxy = await startDynoproxy(t, {
    config: { admin_pool: { ...defaultPool(port, [b0, b1]), stats_listen: `127.0.0.1:${admin}`, rack: 'rack1', datacenter: 'dc1', ...pool } },
    workers,
    env,
  })
  await waitFor(async () => (await http(admin, '/ping')).status === 200, 5000, 'admin API')
  return { proxy, port, admin }
}

const main = await proxyWithAdmin({})

/** Dynomite's /info header fields, in its order (dyn_stats.c stats_add_header). */
const INFO_FIELDS = [
  'service', 'source', 'version', 'uptime', 'timestamp', 'rack', 'dc',
  'latency_max', 'latency_999th', 'latency_99th', 'latency_95th', 'latency_mean',
  'payload_size_max', 'payload_size_999th', 'payload_size_99th', 'payload_size_95th', 'payload_size_mean',
  'average_cross_region_rtt', '99_cross_region_rtt', 'average_cross_zone_latency', '99_cross_zone_latency',
  'average_server_latency', '99_server_latency', 'average_cross_region_queue_wait', '99_cross_region_queue_wait',
  'average_cross_zone_queue_wait', '99_cross_zone_queue_wait', 'average_server_queue_wait', '99_server_queue_wait',
  'client_out_queue_99', 'server_in_queue_99', 'server_out_queue_99', 'dnode_client_out_queue_99',
  'peer_in_queue_99', 'peer_out_queue_99', 'remote_peer_out_queue_99', 'remote_peer_in_queue_99',
  'alloc_msgs', 'free_msgs', 'alloc_mbufs', 'free_mbufs', 'dyn_memory',
]

t.test('golden bodies of the Dynomite endpoints', async (t) => {
  const a = main.admin
  t.same(await http(a, '/ping'), { status: 200, body: 'OK\r\n', type: 'text/plain; charset=utf-8' })
  const help = await http(a, '/help')
  t.equal(help.status, 200)
  t.match(help.body, /^\/info\n\/help\n\/ping\n/)
  t.match(help.body, /\/set_consistency\/<read\|write>\/<dc_one\|dc_quorum\|dc_safe_quorum\|dc_each_safe_quorum>\n/)
  t.match(help.body, /\/state\/<get_state\|standby\|writes_only\|resuming\|normal>\n/)
  t.equal((await http(a, '/get_consistency')).body, 'Read Consistency: DC_ONE\r\nWrite Consistency: DC_ONE\r\n')
  t.equal((await post(a, '/set_consistency/read/dc_quorum')).body, 'OK\r\n')
  t.equal((await post(a, '/set_consistency/write/DC_EACH_SAFE_QUORUM')).body, 'OK\r\n', 'levels are case-insensitive, as dn_strcasecmp')
  t.equal((await http(a, '/get_consistency')).body, 'Read Consistency: DC_QUORUM\r\nWrite Consistency: DC_EACH_SAFE_QUORUM\r\n')
  t.match(await post(a, '/set_consistency/read/dc_two'), { status: 400, body: /^ERR unknown consistency 'dc_two'/ })
  t.match(await post(a, '/set_consistency/sideways/dc_one'), { status: 400 })
  t.equal((await http(a, '/get_timeout_factor')).body, 'Timeout factor: 1\n')
  t.equal((await post(a, '/set_timeout_factor/20')).body, 'OK\r\n')
  t.equal((await http(a, '/get_timeout_factor')).body, 'Timeout factor: 10\n', 'clamped to 1..10 as Dynomite does')
  t.equal((await post(a, '/set_timeout_factor/0')).body, 'OK\r\n')
  t.equal((await http(a, '/get_timeout_factor')).body, 'Timeout factor: 1\n')
  t.match(await post(a, '/set_timeout_factor/x'), { status: 400 })
  t.equal((await http(a, '/state/get_state')).body, 'State: NORMAL\n')
  t.match(await post(a, '/state/sleeping'), { status: 404 })
  for (const p of ['/loglevelup', '/logleveldown', '/setloglevel/6', '/historeset']) t.equal((await post(a, p)).body, 'OK\r\n', p)
  t.match(await post(a, '/state/warm_up'), { status: 400, body: /warm-up needs a cluster node/ }, 'warm-up on a single node: 400 and why')
  t.match(await http(a, '/setloglevel/12'), { status: 400 })
  t.match(await http(a, '/no/such/thing'), { status: 404, body: /^ERR unknown path "\/no\/such\/thing"; see \/help\r\n$/ })
  const cd = await http(a, '/cluster_describe')
  t.equal(cd.type, 'application/json; charset=utf-8')
  // Dynomite's fields first and unchanged; then what token-aware clients (dynoproxy/client) need.
  const dyn = `"name":"127.0.0.1","host":${JSON.stringify(os.hostname())},"port":8101,"token":0`
  const extra = `"dc":"dc1","rack":"rack1","tokens":[],"client_port":${main.port},"node_state":"normal","local":true`
  t.equal(cd.body, `{"dcs":[{"name":"dc1","racks":[{"name":"rack1","servers":[{${dyn},${extra}}]}]}],"hash":"murmur","hash_tag":"{}","data_store":"redis"}\n`)
  const describe = await http(a, '/describe')
  t.match(describe.body, /^pool stats:\n {2}client_connections +"Client connections open"\n/)
})

t.test('/info is JSON with every Dynomite field, the pool and its servers', async (t) => {
  for (let i = 0; i < 20; i++) await callOnce(main.port, ['SET', `info:${i}`, 'v'])
  const r = await waitFor(async () => {
    const r = await http(main.admin, '/info')
    const i = JSON.parse(r.body)
    // alloc_msgs comes from the workers' once-a-second probe.
    return i.latency_max > 0 && i.alloc_msgs > 0 ? r : null
  }, 5000, '/info to show latency and allocations')
  t.equal(r.type, 'application/json; charset=utf-8')
  t.match(r.body, /^\{"service":"dynoproxy","source":"[^"]*","version":"[^"]+","uptime":\d+,\n"timestamp":\d+,\n"rack":"rack1","dc":"dc1","latency_max":\d+,\n/, "Dynomite's line layout")
  const info = JSON.parse(r.body)
  t.same(Object.keys(info).slice(0, INFO_FIELDS.length), INFO_FIELDS)
  t.same(JSONRoot(await http(main.admin, '/')), Object.keys(info), '/ is /info')
  t.equal(info.rack, 'rack1')
  t.equal(info.state, 'NORMAL')
  t.ok(info.latency_99th >= info.latency_95th && info.latency_max >= info.latency_99th, 'percentiles are ordered')
  t.ok(info.payload_size_max >= 16 && info.payload_size_max <= 64, `SET info:N v is 32 to 34 bytes: power-of-two bucket 64 at most (got ${info.payload_size_max})`)
  t.ok(info.alloc_msgs > 0, 'request objects allocated')
  const pool = info.admin_pool
  t.type(pool, 'object')
  t.ok(pool.client_write_requests >= 20)
  t.ok(pool.requests_total >= 20)
  t.type(pool[s0], 'object')
  t.type(pool[s1], 'object')
  t.equal(pool[s0].server_requests_total + pool[s1].server_requests_total >= 20, true)
  t.ok('server_err' in pool[s0] && 'server_timedout' in pool[s0] && 'server_connections' in pool[s0])
})

function JSONRoot(r: Http): string[] {
  return Object.keys(JSON.parse(r.body))
}

t.test('/peer/down takes a backend out of routing on every worker; /peer/up puts it back', async (t) => {
  const dbsize = async (b: RedisServer): Promise<number> => {
    const r = await b.call('DBSIZE')
    return r.kind === 'integer' ? Number(r.value) : -1
  }
  await Promise.all([b0.call('FLUSHALL'), b1.call('FLUSHALL')])
  t.equal((await post(main.admin, `/peer/down/${s0}`)).body, 'OK\r\n')
  // Several connections so both workers see the change.
  for (let i = 0; i < 60; i++) t.same(await callOnce(main.port, ['SET', `peer:${i}`, 'x']), { kind: 'simple', value: 'OK' })
  t.equal(await dbsize(b0), 0, 'nothing reaches the server held down')
  t.equal(await dbsize(b1), 60)
  t.match(await post(main.admin, '/peer/down/127.0.0.1:1'), { status: 404, body: /no backend server named/ })
  t.equal((await post(main.admin, `/peer/up/${s0}`)).body, 'OK\r\n')
  await Promise.all([b0.call('FLUSHALL'), b1.call('FLUSHALL')])
  for (let i = 0; i < 60; i++) await callOnce(main.port, ['SET', `peer:${i}`, 'x'])
  t.ok((await dbsize(b0)) > 0 && (await dbsize(b1)) > 0, 'keys spread over both again')
  t.equal((await post(main.admin, '/peer/down/all')).body, 'OK\r\n')
  t.match(await callOnce(main.port, ['GET', 'peer:1']), { kind: 'error', value: /^ERR Storage: / }, 'every server down: storage error')
  t.equal((await post(main.admin, '/peer/reset/all')).body, 'OK\r\n')
  t.same(await callOnce(main.port, ['GET', 'peer:1']), { kind: 'bulk', value: Buffer.from('x') })
})

t.test('state changes need admin_token when stats_listen is off loopback', async (t) => {
  const open = await (async () => {
    const [port, admin] = await Promise.all([freePort(), freePort()])
    await startDynoproxy(t, { config: { wide: { ...defaultPool(port, [b0]), stats_listen: `0.0.0.0:${admin}` } }, workers: 1 })
    await waitFor(async () => (await http(admin, '/ping')).status === 200, 5000, 'admin API')
    return admin
  })()
  t.match(await post(open, '/state/standby'), { status: 403, body: /stats_listen is not a loopback address and admin_token is not set/ })
  t.match(await http(open, '/peer/down/all', { method: 'POST' }), { status: 403 })
  t.equal((await http(open, '/state/get_state')).body, 'State: NORMAL\n', 'nothing changed; reads stay open')
  t.equal((await http(open, '/info')).status, 200)

  const tok = await proxyWithAdmin({ admin_token: 's3cret-token' }, {}, 1)
  t.match(await post(tok.admin, '/state/standby'), { status: 401, body: /Authorization: Bearer/ })
  t.match(await post(tok.admin, '/state/standby', { headers: { authorization: 'Bearer wrong-token!' } }), { status: 401 })
  t.match(await http(tok.admin, '/state/standby', { headers: { authorization: 'Bearer wrong-token!' } }), { status: 405 }, 'a GET with a wrong token is a GET')
  t.equal((await http(tok.admin, '/state/get_state')).body, 'State: NORMAL\n')
  t.equal((await http(tok.admin, '/state/standby', { headers: { authorization: 'Bearer s3cret-token' } })).body, 'OK\r\n', 'a GET carrying the token may change (Dynomite scripts with curl -H)')
  t.equal((await http(tok.admin, '/state/get_state')).body, 'State: STANDBY\n')
  t.equal((await http(tok.admin, '/state/normal', { method: 'POST', headers: { authorization: 'bearer s3cret-token' } })).body, 'OK\r\n')
})

t.test('a web page cannot change the node: GET is 405, cross-origin and foreign Host names are refused', async (t) => {
  const a = main.admin
  const g = await http(a, '/state/standby')
  t.equal(g.status, 405)
  t.match(g.body, new RegExp(`^ERR /state/standby changes the node: use POST, e\\.g\\. curl -X POST http://127\\.0\\.0\\.1:${a}/state/standby\r\n$`))
  for (const p of ['/set_consistency/read/dc_one', '/set_timeout_factor/5', '/peer/down/all', '/loglevelup', '/setloglevel/9', '/historeset']) {
    t.equal((await http(a, p)).status, 405, `GET ${p}`)
  }
  t.equal((await http(a, '/state/standby', { method: 'HEAD' })).status, 405, 'HEAD neither')
  t.match(await raw(a, '/state/standby', 'POST', { origin: 'http://evil.example' }), { status: 403, body: /cross-origin/ })
  t.match(await raw(a, '/state/standby', 'POST', { origin: 'null' }), { status: 403 }, 'a sandboxed page')
  t.match(await raw(a, '/state/standby', 'POST', { 'sec-fetch-site': 'cross-site' }), { status: 403 })
  // DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sends Host: evil.example:port to our port.
  t.match(await raw(a, '/state/standby', 'POST', { host: `evil.example:${a}` }), { status: 403, body: /DNS rebinding/ })
  t.match(await raw(a, '/info', 'GET', { host: `evil.example:${a}` }), { status: 403 }, 'reads neither')
  t.match(await raw(a, '/info', 'GET', { host: '127.0.0.1:1' }), { status: 403 }, 'another port is another origin')
  t.equal((await http(a, '/state/get_state')).body, 'State: NORMAL\n', 'nothing changed')
  t.equal((await http(a, '/get_timeout_factor')).body, 'Timeout factor: 1\n')
  for (const h of [`127.0.0.1:${a}`, `localhost:${a}`, `[::1]:${a}`, `LOCALHOST:${a}`]) t.equal((await raw(a, '/ping', 'GET', { host: h })).status, 200, h)
  t.equal((await raw(a, '/state/normal', 'POST', { origin: `http://127.0.0.1:${a}`, 'sec-fetch-site': 'same-origin' })).body, 'OK\r\n', 'same origin may')
})

t.test('admin_read_token guards the read endpoints; /ping and the static /dashboard stay open', async (t) => {
  const r = await proxyWithAdmin({ admin_read_token: 'peek-42', admin_token: 'change-42' }, {}, 1)
  for (const p of ['/', '/info', '/metrics', '/state/get_state', '/get_consistency', '/cluster_describe', '/help', '/describe', '/events']) {
    t.match(await http(r.admin, p), { status: 401, body: /admin_read_token/ }, `${p} without a token`)
    t.equal((await http(r.admin, p, { headers: { authorization: 'Bearer peek-41' } })).status, 401, `${p} with a wrong token`)
  }
  for (const p of ['/info', '/metrics', '/state/get_state']) {
    t.equal((await http(r.admin, p, { headers: { authorization: 'Bearer peek-42' } })).status, 200, `${p} with admin_read_token`)
    t.equal((await http(r.admin, p, { headers: { authorization: 'Bearer change-42' } })).status, 200, `${p} with admin_token`)
  }
  t.equal((await http(r.admin, '/ping')).status, 200)
  t.equal((await http(r.admin, '/dashboard')).status, 200)
  t.equal((await post(r.admin, '/state/standby', { headers: { authorization: 'Bearer peek-42' } })).status, 401, 'the read token changes nothing')
  t.equal((await http(r.admin, '/state/get_state', { headers: { authorization: 'Bearer peek-42' } })).body, 'State: NORMAL\n')
})

t.test('HEAD /events answers its headers and ends, and takes no stream slot (fuzz finding: it was never answered)', async (t) => {
  // The fuzz suite's input: HEAD /events HTTP/1.1, Host, Connection: close. 17 of them: one more than the stream limit.
  for (let i = 0; i < 17; i++) {
    const r = await withDeadline(raw(main.admin, '/events', 'HEAD', {}), 5000, `HEAD /events #${i}`)
    t.match(r, { status: 200, body: '', type: /event-stream/ }, `HEAD /events #${i}`)
  }
  const ac = new AbortController()
  const stream = await fetch(`http://127.0.0.1:${main.admin}/events`, { signal: ac.signal })
  t.equal(stream.status, 200, 'a GET stream still gets a slot')
  ac.abort()
})

t.test('requests are size- and rate-limited', async (t) => {
  const lim = await proxyWithAdmin({}, { DYNOPROXY_ADMIN_RATE: '20:20' }, 1)
  t.equal((await http(lim.admin, '/' + 'x'.repeat(3000))).status, 414)
  t.equal((await http(lim.admin, '/ping', { method: 'POST', body: 'y'.repeat(2000) })).status, 413)
  t.equal((await http(lim.admin, '/ping', { method: 'DELETE' })).status, 405)
  const statuses: number[] = []
  for (let i = 0; i < 40; i++) statuses.push((await http(lim.admin, '/ping')).status)
  t.ok(statuses.includes(429), 'a burst past the bucket gets 429')
  t.ok(statuses.filter((s) => s === 200).length >= 10, 'the bucket lets a burst through first')
})
