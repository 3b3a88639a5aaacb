// Warm-up (cold cache): a rack whose redis restarts empty copies its range back from a peer rack by itself, TTLs kept, reads through it
// never nil while it copies, a write made during the copy kept; warm_up: false copies nothing until /state/warm_up; bad requests refused.
// It must never read the proxy's own state to decide what is correct: keys and values are checked on the redis-servers themselves.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { RawPeer, resp, peerFrame, DMSG_REQ } from '../helpers/raw-peer.ts'

// Enough for copies of seconds (each source scans every key it holds, in steps of warm_up_batch with a pause as long as the step).
const KEYS = 10_000
const SECRET = 'warm-up-secret'
const cluster = await startCluster(t, {
  // rack2 has two nodes: the one that warms up owns half the keys, and its rack peer routes the other half's reads to it.
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 1 }, { name: 'rack2', nodes: 2 }, { name: 'rack3', nodes: 1 }] }],
  // Small steps with a pause: the copy takes seconds, long enough to read and write through the node meanwhile.
  // peer_secret: the copy runs on authenticated peer links only.
  pool: { warm_up_batch: 50, warm_up_pause: 5, peer_secret: SECRET },
  nodePool: ({ rack }) => (rack === 'rack3' ? { warm_up: false } : {}),
})
const rack1 = cluster.node('dc1', 'rack1', 0)
const rack2Peer = cluster.node('dc1', 'rack2', 0)
const rack2 = cluster.node('dc1', 'rack2', 1)
const rack3 = cluster.node('dc1', 'rack3', 0)

const key = (i: number): string => `wu:${i}`
const value = (i: number): string => `value-${i}`
const hasTtl = (i: number): boolean => i % 10 === 0
/** By the tests' placement model: the keys rack2/1 (the node that warms up) owns in its rack. */
const owned = Array.from({ length: KEYS }, (_, i) => i).filter((i) => cluster.ownerOf(key(i), 'dc1', 'rack2') === rack2)
const duringWrite = owned[owned.length - 1]!

type WarmUpInfo = { phase: string; enabled: string; runs: number; keys_copied: number; keys_skipped: number; keys_expected: number; reason: string; sources: string }

async function warmUp(node: ClusterNode): Promise<WarmUpInfo> {
  const body = (await (await fetch(`http://127.0.0.1:${node.statsPort}/info`)).json()) as { warm_up: WarmUpInfo }
  return body.warm_up
}

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

async function dbsize(node: ClusterNode): Promise<number> {
  return Number(plain(await node.redis.call('DBSIZE')))
}

t.test('setup: 10,000 keys (every tenth with a TTL) written through rack1, replicated to every rack', async (t) => {
  const conn = await rack1.connect()
  for (let from = 0; from < KEYS; from += 1000) {
    const cmds = []
    for (let i = from; i < from + 1000; i++) cmds.push(hasTtl(i) ? ['SET', key(i), value(i), 'PX', '600000'] : ['SET', key(i), value(i)])
    const replies = await conn.pipeline(cmds, 30_000)
    t.ok(replies.every((r) => plain(r) !== null && (plain(r) as { ok?: string }).ok === 'OK'), `keys ${from}.. stored`)
  }
  t.ok(owned.length > KEYS / 4 && owned.length < (3 * KEYS) / 4, `rack2/1 owns ${owned.length} keys`)
  for (const n of [rack3, rack1]) await waitFor(async () => (await dbsize(n)) === KEYS, 30_000, `${n.name} holds every key`)
  await waitFor(async () => (await dbsize(rack2)) === owned.length, 30_000, 'rack2/1 holds its keys')
  t.same((await warmUp(rack2)).runs, 0, 'no warm-up while every rack holds its keys')
})

t.test('rack2/1\'s redis restarts empty: it warms up by itself; reads of its keys (through it or its rack peer) never nil; a write during the copy kept', async (t) => {
  await rack2.restartRedis()
  await waitFor(async () => (await warmUp(rack2)).phase === 'writes_only' && (await warmUp(rack2)).sources !== '', 20_000, 'rack2 copying (writes_only)')
  const during = await warmUp(rack2)
  t.match(during.reason, /empty datastore|datastore restarted/, `started by itself (${during.reason})`)
  t.match(during.sources, /127\.0\.0\.1:\d+/, `copying from ${during.sources}`)
  t.equal((await (await fetch(`http://127.0.0.1:${rack2.statsPort}/state/get_state`)).text()).trim(), 'State: WRITES_ONLY', 'the state reads WRITES_ONLY')
  t.equal(await metric(rack2, 'warmup_state'), 1, 'warmup_state 1 in /metrics')
  // Its rack peer learns it from its PING answer, and names it in /cluster_describe.
  await waitFor(async () => {
    const d = (await (await fetch(`http://127.0.0.1:${rack2Peer.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: { port: number; state: string }[] }[] }[] }
    return d.dcs[0]!.racks.some((r) => r.servers.some((s) => s.port === rack2.peerPort && s.state === 'warming'))
  }, 5000, 'rack2/0 sees rack2/1 warming')
  // A write through rack2 while it copies: stored on rack2 (and every rack), and the older copied value must not replace it.
  t.same(plain(await rack2.call('SET', key(duringWrite), 'written-during-warm-up')), { ok: 'OK' })
  let reads = 0
  let nils = 0
  let errors = 0
  let firstError = ''
  const conns = [await rack2.connect(), await rack2Peer.connect()]
  for (let round = 0; round < 400 && (await warmUp(rack2)).phase === 'writes_only'; round++) {
    // Its own keys, through itself and through its rack peer (which routes them to it); and an MGET split over both owners.
    const ids = Array.from({ length: 40 }, (_, j) => owned[(round * 97 + j * 389) % (owned.length - 1)]!)
    const replies = await conns[round % 2]!.pipeline([...ids.map((i) => ['GET', key(i)]), ['MGET', key(round), key(round + 1), key(round + 2)]], 10_000)
    replies.forEach((r, j) => {
      reads++
      const v = plain(r)
      const values = Array.isArray(v) ? v : [v]
      if (values.some((x) => x === null)) nils++
      else if (values.some((x) => typeof x !== 'string')) {
        errors++
        firstError ||= `${JSON.stringify(v)} (round ${round} through ${round % 2 === 0 ? 'rack2/1' : 'rack2/0'}, ${j < ids.length ? `GET ${key(ids[j]!)}` : 'MGET'})`
      }
    })
  }
  t.ok(reads >= 40, `${reads} reads made through rack2's nodes while rack2/1 copied`)
  t.equal(nils, 0, 'no read answered nil from the empty datastore')
  t.equal(errors, 0, `no read failed ${firstError}`)
  await waitFor(async () => (await warmUp(rack2)).phase === 'idle', 60_000, 'the warm-up done')
  t.equal((await (await fetch(`http://127.0.0.1:${rack2.statsPort}/state/get_state`)).text()).trim(), 'State: NORMAL', 'NORMAL again')
  const done = await warmUp(rack2)
  t.ok(done.keys_copied >= owned.length - 1 - 5, `${done.keys_copied} keys copied (expected about ${done.keys_expected}), ${done.keys_skipped} skipped`)
  t.equal(await dbsize(rack2), owned.length, 'rack2/1 holds its keys again, and only those (its token range)')
  t.equal(plain(await rack2.redis.call('GET', key(duringWrite))), 'written-during-warm-up', 'the write made during the copy was not overwritten')
  for (const i of owned.filter((_, j) => j % 251 === 0)) {
    t.equal(plain(await rack2.redis.call('GET', key(i))), value(i), `${key(i)} copied`)
    const ttl = Number(plain(await rack2.redis.call('PTTL', key(i))))
    if (hasTtl(i)) t.ok(ttl > 500_000 && ttl <= 600_000, `${key(i)} keeps its TTL (${ttl} ms)`)
    else t.equal(ttl, -1, `${key(i)} has none`)
  }
  t.ok(owned.filter((_, j) => j % 251 === 0).some(hasTtl), 'the sample holds keys with a TTL')
  t.ok((await metric(rack2, 'warmup_keys_copied_total')) >= owned.length - 6, 'warmup_keys_copied_total in /metrics')
})

t.test('its redis flushed (FLUSHALL, no restart): rack2/1 warms up again', async (t) => {
  const runs = (await warmUp(rack2)).runs
  t.same(plain(await rack2.redis.call('FLUSHALL')), { ok: 'OK' })
  await waitFor(async () => (await warmUp(rack2)).runs === runs + 1 && (await warmUp(rack2)).phase === 'idle', 60_000, 'a second warm-up done')
  t.equal(await dbsize(rack2), owned.length, 'every key of its range back')
})

t.test('INCR and DEL through another rack while rack2/1 copies: it ends with the source rack\'s values, not counters started from nothing', async (t) => {
  // Keys of rack2/1's range: 200 counters at 100 and 100 keys to delete, on every rack first.
  const ctr = Array.from({ length: 4000 }, (_, i) => `wc:${i}`).filter((k) => cluster.ownerOf(k, 'dc1', 'rack2') === rack2).slice(0, 200)
  const del = Array.from({ length: 4000 }, (_, i) => `wd:${i}`).filter((k) => cluster.ownerOf(k, 'dc1', 'rack2') === rack2).slice(0, 100)
  const conn = await rack1.connect()
  await conn.pipeline([...ctr.map((k) => ['SET', k, '100']), ...del.map((k) => ['SET', k, 'x'])], 30_000)
  await waitFor(async () => plain(await rack2.redis.call('GET', ctr[ctr.length - 1]!)) === '100' && plain(await rack2.redis.call('GET', del[del.length - 1]!)) === 'x', 10_000, 'rack2/1 holds them')
  const runs = (await warmUp(rack2)).runs
  t.same(plain(await rack2.redis.call('FLUSHALL')), { ok: 'OK' })
  await waitFor(async () => (await warmUp(rack2)).runs === runs + 1 && (await warmUp(rack2)).phase === 'writes_only', 20_000, 'rack2/1 copying again')
  // rack2/1 gets these as replica writes: an INCR of a key its copy has not reached makes it 1 there, a DEL deletes nothing.
  const half = ctr.length / 2
  const incrs = await conn.pipeline(ctr.slice(0, half).map((k) => ['INCR', k]), 30_000)
  t.ok(incrs.every((r) => plain(r) === 101), 'every INCR answered 101 (through rack1)')
  // Through the warming node itself (the owner in its rack): another rack answers an INCR, not its empty store.
  const own = await rack2.connect()
  const ownIncrs = (await own.pipeline(ctr.slice(half).map((k) => ['INCR', k]), 30_000)).map(plain)
  t.equal(ownIncrs.filter((v) => v !== 101).length, 0, `every INCR through rack2/1 answered 101 (e.g. ${JSON.stringify(ownIncrs.find((v) => v !== 101))})`)
  t.equal((await warmUp(rack2)).phase, 'writes_only', 'still copying when they were answered')
  const dels = await conn.pipeline(del.map((k) => ['DEL', k]), 30_000)
  t.ok(dels.every((r) => plain(r) === 1), 'every DEL answered 1')
  await waitFor(async () => (await warmUp(rack2)).phase === 'idle', 60_000, 'the warm-up done')
  const values = await Promise.all(ctr.map(async (k) => plain(await rack2.redis.call('GET', k))))
  const wrong = values.filter((v) => v !== '101')
  t.equal(wrong.length, 0, `every counter is 101 on rack2/1's redis (wrong: ${wrong.length}, e.g. ${JSON.stringify(wrong[0])})`)
  const back = (await Promise.all(del.map(async (k) => plain(await rack2.redis.call('EXISTS', k))))).filter((x) => x !== 0)
  t.equal(back.length, 0, 'no deleted key came back with the copy')
  const w = (await (await fetch(`http://127.0.0.1:${rack2.statsPort}/info`)).json()) as { warm_up: { keys_mirrored: number; keys_mirror_deleted: number } }
  t.ok(w.warm_up.keys_mirrored > 0, `keys the source wrote during the copy were read again there (${w.warm_up.keys_mirrored}; ${w.warm_up.keys_mirror_deleted} deleted)`)
  // The later tests count keys: these go again (everywhere).
  await conn.pipeline(ctr.map((k) => ['DEL', k]), 30_000)
  for (const n of [rack1, rack2, rack3]) await waitFor(async () => (await dbsize(n)) === (n === rack2 ? owned.length : KEYS), 20_000, `${n.name} back to its keys`)
})

t.test('the source killed during the copy: rack2/1 copies from the other rack and ends with every key', async (t) => {
  await rack2.restartRedis()
  await waitFor(async () => (await warmUp(rack2)).phase === 'writes_only' && (await warmUp(rack2)).sources !== '', 20_000, 'rack2/1 copying again')
  const first = (await warmUp(rack2)).sources
  const source = [rack1, rack3].find((n) => first.includes(`:${n.peerPort}`))!
  t.ok(source !== undefined, `copying from ${source.name}`)
  await source.kill()
  try {
    await waitFor(async () => (await warmUp(rack2)).phase === 'idle', 60_000, 'the warm-up done without its first source')
    const done = await warmUp(rack2)
    t.notMatch(done.sources, `:${source.peerPort}`, `finished from ${done.sources}`)
    t.equal(await dbsize(rack2), owned.length, 'every key of its range')
  } finally {
    await source.start()
    await cluster.waitReady()
  }
})

t.test('warm_up: false: an empty rack3 stays empty until /state/warm_up starts it; a second start while copying is a 409', async (t) => {
  // Counters at 100 everywhere; incremented while rack3's redis is empty, they make 1 there (a replica INCR on nothing).
  const ctr = Array.from({ length: 20 }, (_, i) => `wseed:${i}`)
  const conn = await rack1.connect()
  await conn.pipeline(ctr.map((k) => ['SET', k, '100']), 30_000)
  await waitFor(async () => plain(await rack3.redis.call('GET', ctr[ctr.length - 1]!)) === '100', 10_000, 'rack3 holds the counters')
  await rack3.restartRedis()
  const info = await warmUp(rack3)
  t.equal(info.enabled, 'false', 'warm_up: false is reported')
  // Longer than two automatic checks (2 s apart).
  await new Promise((r) => setTimeout(r, 5000))
  t.equal(await dbsize(rack3), 0, 'nothing copied by itself')
  t.equal((await warmUp(rack3)).runs, 0, 'no run started')
  t.ok((await conn.pipeline(ctr.map((k) => ['INCR', k]), 30_000)).every((r) => plain(r) === 101), 'INCRs through rack1 answered 101')
  await waitFor(async () => plain(await rack3.redis.call('GET', ctr[ctr.length - 1]!)) === '1', 10_000, 'rack3 made them 1 (its redis was empty)')
  const first = await fetch(`http://127.0.0.1:${rack3.statsPort}/state/warm_up`, { method: 'POST' })
  t.equal(first.status, 200, `/state/warm_up: ${(await first.text()).trim()}`)
  const second = await fetch(`http://127.0.0.1:${rack3.statsPort}/state/warm_up`, { method: 'POST' })
  t.equal(second.status, 409, 'a second start while copying is refused')
  t.match(await second.text(), /already running/, 'and says why')
  await waitFor(async () => (await warmUp(rack3)).phase === 'idle' && (await warmUp(rack3)).runs === 1, 60_000, 'the manual warm-up done')
  t.equal(await dbsize(rack3), KEYS + ctr.length, 'rack3 holds every key')
  t.equal(plain(await rack3.redis.call('GET', key(duringWrite))), 'written-during-warm-up', 'including the newest value')
  // Written here before the copy began (the feed of the source cannot report them): read again there all the same.
  const values = await Promise.all(ctr.map(async (k) => plain(await rack3.redis.call('GET', k))))
  t.same(values.filter((v) => v !== '101'), [], 'the counters incremented before the warm-up end with the source\'s 101, not the 1 made here')
  await conn.pipeline(ctr.map((k) => ['DEL', k]), 30_000)
  for (const n of [rack1, rack3]) await waitFor(async () => (await dbsize(n)) === KEYS, 20_000, `${n.name} back to its keys`)
})

t.test('the peer port refuses a DYNOPROXY.RANGE with an invalid range or arguments, and answers a valid one', async (t) => {
  const stranger = new RawPeer(rack1.peerPort)
  t.teardown(() => stranger.close())
  stranger.socket.write(peerFrame(1, DMSG_REQ, resp('DYNOPROXY.RANGE', '0', '0', '1000', '0', '9')))
  await stranger.until(() => stranger.closed, 'a peer that did not authenticate is closed, unserved')
  t.notMatch(stranger.text, new RegExp(`:${KEYS}\\r\\n`), 'and got no key count')
  const peer = new RawPeer(rack1.peerPort)
  t.teardown(() => peer.close())
  await peer.authenticate(SECRET)
  t.match(await peer.request(1, resp('DYNOPROXY.RANGE', '0', '10', '1000', '5', '4')), /^-ERR dynoproxy range: invalid hash range/, 'from > to')
  t.match(await peer.request(2, resp('DYNOPROXY.RANGE', '0', '10', '1000', '0', '4294967296')), /^-ERR dynoproxy range: invalid hash range/, 'past 2^32-1')
  t.match(await peer.request(3, resp('DYNOPROXY.RANGE', '0', '10', '1000', '0')), /^-ERR dynoproxy range: wrong number of arguments/, 'odd range bounds')
  t.match(await peer.request(4, resp('DYNOPROXY.RANGE', 'x', '10', '1000', '0', '9')), /^-ERR dynoproxy range: invalid cursor/, 'bad cursor')
  t.match(await peer.request(5, resp('DYNOPROXY.RANGE', '0', '10', '10', '0', '4294967295')), /^-ERR dynoproxy range: datastore: .*max-bytes/, 'a step over max-bytes')
  const ok = await peer.request(6, resp('DYNOPROXY.RANGE', '0', '0', '1000', '0', '4294967295'))
  t.match(ok, new RegExp(`^\\*3\\r\\n\\$1\\r\\n0\\r\\n:${KEYS}\\r\\n:0\\r\\n$`), 'count 0: the datastore\'s key count only')
  // A DUMP payload is binary: the reply is checked for its shape (cursor, dbsize, scanned) only.
  t.match(await peer.request(7, resp('DYNOPROXY.RANGE', '0', '100', '1000000', '0', '4294967295')), new RegExp(`^\\*\\d+\\r\\n\\$\\d+\\r\\n\\d+\\r\\n:${KEYS}\\r\\n:\\d+\\r\\n`), 'a SCAN step')
})
