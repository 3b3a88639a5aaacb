// MULTI/EXEC on cluster nodes (ioredis, redis-py, raw RESP): a block on one hash tag runs on its owner, through any node, and reaches the
// owner in every rack and the remote DC as one block; blocks spanning owners, over the bounds, or hand-written with refused commands apply nothing.

import { spawn } from 'node:child_process'
import t from 'tap'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { startCluster, waitForValue } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import type { RedisServer } from '../helpers/redis-server.ts'
import { RawPeer, resp, DMSG_REQ_FORWARD } from '../helpers/raw-peer.ts'

const PEER_SECRET = 'tx-peer-secret'
const MAX_TX = 50
const MAX_TX_BYTES = 65_536
const cluster = await startCluster(t, {
  dcs: [
    { name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 2 }] },
    { name: 'dc2', racks: [{ name: 'rack1', nodes: 1 }] },
  ],
  pool: { peer_secret: PEER_SECRET, max_tx_commands: MAX_TX, max_tx_bytes: MAX_TX_BYTES },
})
const RACKS = [['dc1', 'rack1'], ['dc1', 'rack2'], ['dc2', 'rack1']] as const
/** The node owning every {tx} key in dc1/rack1, and the other node of that rack. */
const owner = cluster.ownerOf('{tx}', 'dc1', 'rack1')
const other = cluster.rackNodes('dc1', 'rack1').find((n) => n !== owner)!

/** The owner of `key` in every rack (dc1 rack1, dc1 rack2, dc2 rack1). */
function owners(key: string): ClusterNode[] {
  return RACKS.map(([dc, rack]) => cluster.ownerOf(key, dc, rack))
}

function client(node: ClusterNode): Redis {
  const redis = new Redis({ port: node.clientPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
  t.teardown(() => redis.disconnect())
  return redis
}

async function execCalls(redis: RedisServer): Promise<number> {
  const info = plain(await redis.call('INFO', 'commandstats')) as string
  const m = /cmdstat_exec:calls=(\d+)/.exec(info)
  return m === null ? 0 : Number(m[1])
}

/** Every redis-server of the cluster has none of `keys`; checked after a sentinel write sent later on the same path arrived everywhere. */
async function absentEverywhere(t: Test, via: ClusterNode, keys: string[], sentinel: string): Promise<void> {
  t.same(plain(await via.call('SET', sentinel, 'after')), { ok: 'OK' })
  for (const n of owners(sentinel)) t.ok(await waitForValue(n.redis, sentinel, 'after'), `sentinel on ${n.name}`)
  for (const n of cluster.nodes) {
    for (const k of keys) t.equal(plain(await n.redis.call('EXISTS', k)), 0, `${k} absent on ${n.name}`)
  }
}

t.test('ioredis multi/exec through the owner: the EXEC reply, and the block in every rack and the remote DC', async (t) => {
  const before = await Promise.all(owners('{tx}').map((n) => execCalls(n.redis)))
  const redis = client(owner)
  await redis.connect()
  const res = await redis.multi().set('{tx}own:a', '1').incr('{tx}own:a').set('{tx}own:b', 'x').get('{tx}own:a').exec()
  t.same(res, [[null, 'OK'], [null, 2], [null, 'OK'], [null, '2']])
  for (const n of owners('{tx}')) {
    t.ok(await waitForValue(n.redis, '{tx}own:a', '2'), `{tx}own:a on ${n.name}`)
    t.ok(await waitForValue(n.redis, '{tx}own:b', 'x'), `{tx}own:b on ${n.name}`)
  }
  const after = await Promise.all(owners('{tx}').map((n) => execCalls(n.redis)))
  after.forEach((calls, i) => t.ok(calls > before[i]!, `${owners('{tx}')[i]!.name} ran it as a MULTI..EXEC block`))
  t.equal(plain(await other.redis.call('EXISTS', '{tx}own:a')), 0, 'the non-owner of the rack holds nothing')
})

t.test('ioredis multi/exec through a node that does not own the keys: forwarded to the owner as one block', async (t) => {
  const before = await execCalls(owner.redis)
  const redis = client(other)
  await redis.connect()
  const res = await redis.multi().set('{tx}fwd:a', '10').incrby('{tx}fwd:a', 5).lpush('{tx}fwd:l', 'p', 'q').exec()
  t.same(res, [[null, 'OK'], [null, 15], [null, 2]])
  t.same(plain(await owner.redis.call('GET', '{tx}fwd:a')), '15', 'the owner applied it before EXEC answered')
  t.ok((await execCalls(owner.redis)) > before, 'as a MULTI..EXEC block on the owner')
  for (const n of owners('{tx}')) {
    t.ok(await waitForValue(n.redis, '{tx}fwd:a', '15'), `{tx}fwd:a on ${n.name}`)
    t.same(plain(await n.redis.call('LRANGE', '{tx}fwd:l', '0', '-1')), ['q', 'p'], `{tx}fwd:l on ${n.name}`)
  }
  t.equal(plain(await other.redis.call('EXISTS', '{tx}fwd:a')), 0, 'nothing on the forwarding node')
  // A transaction with an error inside (WRONGTYPE at run time) is still applied, as in Redis.
  const mixed = await redis.multi().incr('{tx}fwd:l').set('{tx}fwd:c', 'c').exec()
  t.match(mixed?.[0]?.[0], /WRONGTYPE/)
  t.same(mixed?.[1], [null, 'OK'])
})

t.test('redis-py pipeline(transaction=True) through a cluster node', async (t) => {
  const script = [
    'import json, sys, redis',
    `r = redis.Redis(host="127.0.0.1", port=${other.clientPort})`,
    'p = r.pipeline(transaction=True)',
    'p.set("{tx}py:a", "1"); p.incr("{tx}py:a"); p.hset("{tx}py:h", "f", "v"); p.get("{tx}py:a")',
    'print(json.dumps([x.decode() if isinstance(x, bytes) else x for x in p.execute()]))',
  ].join('\n')
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
  if (/No module named 'redis'/.test(out.stderr)) {
    t.pass('skipped: python3-redis is not installed')
    return
  }
  t.equal(out.code, 0, out.stderr)
  t.same(JSON.parse(out.stdout), [true, 2, 1, '2'])
  for (const n of owners('{tx}')) t.ok(await waitForValue(n.redis, '{tx}py:a', '2'), `{tx}py:a on ${n.name}`)
})

t.test('a block spanning owners: refused at that command, EXECABORT, nothing applied anywhere', async (t) => {
  const elsewhere = cluster.keysOwnedBy(other, 'txspan')[0]!
  const conn = await owner.connect()
  t.same(plain(await conn.call(['MULTI'])), { ok: 'OK' })
  t.same(plain(await conn.call(['SET', '{tx}span:a', '1'])), { ok: 'QUEUED' })
  t.match(plain(await conn.call(['SET', elsewhere, '2'])), { err: /must be owned by one node in each rack/ }, 'the command that breaks it')
  t.same(plain(await conn.call(['INCR', '{tx}span:c'])), { ok: 'QUEUED' }, 'later commands are still answered')
  t.match(plain(await conn.call(['EXEC'])), { err: /^EXECABORT/ })
  // The same through ioredis: exec() rejects.
  const redis = client(other)
  await redis.connect()
  await t.rejects(redis.multi().set('{tx}span:b', '1').mset(elsewhere, '3', '{tx}span:d', '4').exec(), /EXECABORT/)
  // A keyless command cannot be placed.
  t.same(plain(await conn.call(['MULTI'])), { ok: 'OK' })
  t.same(plain(await conn.call(['SET', '{tx}span:e', '1'])), { ok: 'QUEUED' })
  t.match(plain(await conn.call(['EVAL', 'return 1', '0'])), { err: /no key to place it by/ })
  t.match(plain(await conn.call(['EXEC'])), { err: /^EXECABORT/ })
  await absentEverywhere(t, owner, ['{tx}span:a', '{tx}span:b', '{tx}span:c', '{tx}span:d', '{tx}span:e', elsewhere], '{tx}span:sentinel')
  conn.destroy()
})

t.test('EVAL whose keys span owners is refused, nothing applied anywhere', async (t) => {
  const elsewhere = cluster.keysOwnedBy(other, 'txeval')[0]!
  const script = "redis.call('SET', KEYS[1], '1'); redis.call('SET', KEYS[2], '2'); return 1"
  for (const via of [owner, other]) {
    t.match(plain(await via.call('EVAL', script, '2', '{tx}eval:a', elsewhere)), { err: /map to different backends/ }, `EVAL via ${via.name}`)
    t.match(plain(await via.call('EVALSHA', 'a'.repeat(40), '2', '{tx}eval:a', elsewhere)), { err: /map to different backends/ }, `EVALSHA via ${via.name}`)
  }
  t.same(plain(await other.call('EVAL', script, '2', '{tx}eval:b', '{tx}eval:c')), 1, 'EVAL on one tag works')
  await absentEverywhere(t, owner, ['{tx}eval:a', elsewhere], '{tx}eval:sentinel')
  for (const n of owners('{tx}')) t.ok(await waitForValue(n.redis, '{tx}eval:c', '2'), `{tx}eval:c on ${n.name}`)
})

t.test('DISCARD drops the block: nothing sent', async (t) => {
  const conn = await other.connect()
  t.same(plain(await conn.call(['MULTI'])), { ok: 'OK' })
  t.same(plain(await conn.call(['SET', '{tx}disc:a', '1'])), { ok: 'QUEUED' })
  t.same(plain(await conn.call(['DISCARD'])), { ok: 'OK' })
  t.match(plain(await conn.call(['EXEC'])), { err: /EXEC without MULTI/ })
  await absentEverywhere(t, other, ['{tx}disc:a'], '{tx}disc:sentinel')
  conn.destroy()
})

t.test('a block at DC_QUORUM, DC_SAFE_QUORUM and DC_EACH_SAFE_QUORUM: the racks that answer ran it before EXEC answered', async (t) => {
  for (const level of ['DC_QUORUM', 'DC_SAFE_QUORUM', 'DC_EACH_SAFE_QUORUM']) {
    const key = `{tx}q:${level}`
    const conn = await other.connect()
    t.same(plain(await conn.call(['DYNO_CONFIG:CONN_CONSISTENCY', level])), { ok: 'OK' })
    const replies = await conn.pipeline([['MULTI'], ['SET', key, '5'], ['INCRBY', key, '2'], ['GET', key], ['EXEC']])
    t.same(replies.map(plain), [{ ok: 'OK' }, { ok: 'QUEUED' }, { ok: 'QUEUED' }, { ok: 'QUEUED' }, [{ ok: 'OK' }, 7, '7']], level)
    const [r1, r2, remote] = owners(key)
    t.same(plain(await r1!.redis.call('GET', key)), '7', `${level}: rack1's owner`)
    t.same(plain(await r2!.redis.call('GET', key)), '7', `${level}: rack2's owner`)
    if (level === 'DC_EACH_SAFE_QUORUM') t.same(plain(await remote!.redis.call('GET', key)), '7', `${level}: the remote DC's owner`)
    else t.ok(await waitForValue(remote!.redis, key, '7'), `${level}: the remote DC, later`)
    const read = await conn.pipeline([['MULTI'], ['GET', key], ['EXEC']])
    t.same(plain(read[2]!), ['7'], `${level}: a read-only block`)
    conn.destroy()
  }
})

t.test('max_tx_commands and max_tx_bytes: a clear error, EXECABORT, nothing applied', async (t) => {
  const conn = await owner.connect()
  const cmds: string[][] = [['MULTI']]
  for (let i = 0; i <= MAX_TX; i++) cmds.push(['SET', `{tx}lim:${i}`, 'v'])
  cmds.push(['EXEC'])
  const replies = (await conn.pipeline(cmds)).map(plain)
  t.same(replies.slice(1, MAX_TX + 1), Array.from({ length: MAX_TX }, () => ({ ok: 'QUEUED' })))
  t.match(replies[MAX_TX + 1], { err: new RegExp(`at most ${MAX_TX} commands \\(max_tx_commands\\)`) })
  t.match(replies[MAX_TX + 2], { err: /^EXECABORT/ })
  const big = await conn.pipeline([['MULTI'], ['SET', '{tx}lim:big', 'x'.repeat(MAX_TX_BYTES)], ['EXEC']])
  t.match(plain(big[1]!), { err: /max_tx_bytes/ })
  t.match(plain(big[2]!), { err: /^EXECABORT/ })
  await absentEverywhere(t, owner, ['{tx}lim:0', `{tx}lim:${MAX_TX}`, '{tx}lim:big'], '{tx}lim:sentinel')
  conn.destroy()
})

t.test('a peer in STANDBY refuses a forwarded block; NORMAL serves it again', async (t) => {
  const state = async (s: string): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${owner.statsPort}/state/${s}`, { method: 'POST' })
    t.equal(res.status, 200, `owner ${s}`)
  }
  await state('standby')
  try {
    const conn = await other.connect()
    const replies = await conn.pipeline([['MULTI'], ['SET', '{tx}st:a', '1'], ['EXEC']])
    t.match(plain(replies[2]!), { err: /Dynomite's current state does not allow this request/ })
    conn.destroy()
  } finally {
    await state('normal')
  }
  t.same(plain(await owner.redis.call('EXISTS', '{tx}st:a')), 0)
  const redis = client(other)
  await redis.connect()
  t.same(await redis.multi().set('{tx}st:a', '2').exec(), [[null, 'OK']])
})

t.test('hand-written peer frames: a MULTI block is served whole, or refused whole', async (t) => {
  const raw = new RawPeer(owner.peerPort)
  t.teardown(() => raw.close())
  await raw.authenticate(PEER_SECRET)
  const block = (...cmds: string[][]): string => resp('MULTI') + cmds.map((c) => resp(...c)).join('') + resp('EXEC')
  t.equal(await raw.request(2, block(['SET', '{tx}peer:a', '1'], ['INCR', '{tx}peer:a'])), '*2\r\n+OK\r\n:2\r\n', 'a block of keyed commands: EXEC\'s reply')
  t.same(plain(await owner.redis.call('GET', '{tx}peer:a')), '2')
  const dbsize = plain(await owner.redis.call('DBSIZE')) as number
  const refused: [string, string][] = [
    ['FLUSHALL inside', block(['SET', '{tx}peer:b', '1'], ['FLUSHALL'])],
    ['CONFIG SET inside', block(['SET', '{tx}peer:b', '1'], ['CONFIG', 'SET', 'maxmemory', '1'])],
    ['SELECT inside', block(['SELECT', '1'], ['SET', '{tx}peer:b', '1'])],
    ['nested MULTI', block(['SET', '{tx}peer:b', '1'], ['MULTI'])],
    ['keyless EVAL', block(['SET', '{tx}peer:b', '1'], ['EVAL', "redis.call('FLUSHALL')", '0'])],
    ['a key of another node', block(['SET', '{tx}peer:b', '1'], ['SET', cluster.keysOwnedBy(other, 'txpeer')[0]!, '1'])],
    ['no EXEC', resp('MULTI') + resp('SET', '{tx}peer:b', '1')],
    ['bytes after EXEC', block(['SET', '{tx}peer:b', '1']) + resp('SET', '{tx}peer:c', '1')],
    ['over max_tx_commands', block(...Array.from({ length: MAX_TX + 1 }, (_, i) => ['SET', `{tx}peer:b${i}`, '1']))],
    ['DISCARD inside', block(['SET', '{tx}peer:b', '1'], ['DISCARD'])],
  ]
  let id = 10
  for (const [what, payload] of refused) t.match(await raw.request(id++, payload), /^-ERR Peer: MULTI block refused: /, what)
  t.equal(plain(await owner.redis.call('DBSIZE')), dbsize, 'nothing of the refused blocks reached the datastore')
  t.same(plain(await owner.redis.call('CONFIG', 'GET', 'maxmemory')), ['maxmemory', '0'])
  t.equal(plain(await owner.redis.call('EXISTS', '{tx}peer:b', '{tx}peer:c')), 0)
  // A block handed over by another datacenter (REQ_FORWARD) is run here and fanned out, whole, to this DC's other rack.
  t.equal(await raw.request(id++, block(['SET', '{tx}peer:fwd', 'f']), DMSG_REQ_FORWARD), '*1\r\n+OK\r\n')
  t.ok(await waitForValue(cluster.ownerOf('{tx}', 'dc1', 'rack2').redis, '{tx}peer:fwd', 'f'), 'rack2\'s owner got the forwarded block')
  t.equal(await raw.request(id++, resp('GET', '{tx}peer:a')), '$1\r\n2\r\n', 'the link still serves')
})
