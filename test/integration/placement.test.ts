// Key placement through dynoproxy with 3 backends: spread, stable routing, hash tags, multi-key split/merge, same-node refusals.
// It must never trust the proxy about where data is: every placement claim is checked by asking the backends directly.

import t from 'tap'
import { dbsizes, holdersOf, onEachBackend, ownersOf } from '../helpers/backend-probe.ts'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import type { CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startProxiedRedis(t, { backends: 3 })
const { backends } = cluster
const client = await RespConnection.connect(cluster.port, { t })

t.test('keys spread over all 3 backends, each key on exactly one', async (t) => {
  const keys = Array.from({ length: 300 }, (_, i) => `spread:${i}`)
  const replies = await client.pipeline(keys.map((k) => ['SET', k, `v-${k}`]))
  t.ok(replies.every((r) => r.kind === 'simple' && r.value === 'OK'), 'all SETs OK')
  const holders = await holdersOf(backends, keys)
  t.same(holders.filter((h) => h.length !== 1), [], 'no key missing or duplicated')
  const sizes = await dbsizes(backends)
  t.equal(sizes.reduce((a, b) => a + b, 0), 300, 'backends hold exactly the keys written')
  for (let i = 0; i < 3; i++) t.ok(sizes[i]! >= 30, `backend ${i} holds a fair share (${sizes[i]})`)
})

t.test('routing is stable: a value written directly on the owner is what the proxy reads', async (t) => {
  const keys = Array.from({ length: 30 }, (_, i) => `stable:${i}`)
  await client.pipeline(keys.map((k) => ['SET', k, 'through-proxy']))
  const owners = await ownersOf(backends, keys)
  await Promise.all(keys.map((k, i) => backends[owners[i]!]!.call('SET', k, `direct-${i}`)))
  const got = await client.pipeline(keys.map((k) => ['GET', k]))
  t.same(got.map(plain), keys.map((_, i) => `direct-${i}`))
})

t.test('hash tags: keys sharing a tag land on one backend, the tag alone decides', async (t) => {
  const tags = Array.from({ length: 24 }, (_, i) => `user${i}`)
  const keysByTag = tags.map((tag) => [`{${tag}}a`, `{${tag}}b`, `x{${tag}}y`, `{${tag}}:profile:{other}`, tag])
  const all = keysByTag.flat()
  await client.pipeline(all.map((k) => ['SET', k, k]))
  const owners = await ownersOf(backends, all)
  const ownerOfTag: number[] = []
  keysByTag.forEach((keys, ti) => {
    const mine = owners.slice(ti * keys.length, (ti + 1) * keys.length)
    t.same(new Set(mine).size, 1, `all keys tagged ${tags[ti]} (and the bare key ${tags[ti]}) on one backend`, { keys, owners: mine })
    ownerOfTag.push(mine[0]!)
  })
  t.ok(new Set(ownerOfTag).size >= 2, 'different tags still spread over backends')
})

t.test('binary keys: 256 one-byte keys, MSET/MGET across backends, bytes intact', async (t) => {
  const keys = Array.from({ length: 256 }, (_, i) => Buffer.from([i]))
  const values = keys.map((_, i) => Buffer.from([i, 13, 10, 255 - i, 0]))
  const msetArgs: CommandArg[] = ['MSET']
  keys.forEach((k, i) => msetArgs.push(k, values[i]!))
  t.same(plain(await client.call(msetArgs)), { ok: 'OK' })
  const owners = await ownersOf(backends, keys)
  t.equal(new Set(owners).size, 3, 'binary keys spread over all backends')
  const mget = await client.call(['MGET', ...keys])
  t.equal(mget.kind, 'array')
  if (mget.kind === 'array' && mget.value !== null) {
    t.equal(mget.value.length, 256)
    const ok = mget.value.every((r, i) => r.kind === 'bulk' && r.value !== null && r.value.equals(values[i]!))
    t.ok(ok, 'MGET returns every binary value in key order')
  }
  const direct = await Promise.all(keys.map((k, i) => backends[owners[i]!]!.call('GET', k)))
  t.ok(direct.every((r, i) => r.kind === 'bulk' && r.value !== null && r.value.equals(values[i]!)), 'backends hold the exact bytes')
})

t.test('multi-key split and merge, checked against the backends', async (t) => {
  const keys = Array.from({ length: 60 }, (_, i) => `mk:${i}`)
  const mset: CommandArg[] = ['MSET']
  for (const k of keys) mset.push(k, `val-${k}`)
  t.same(plain(await client.call(mset)), { ok: 'OK' }, 'MSET +OK')
  const owners = await ownersOf(backends, keys)
  t.equal(new Set(owners).size, 3, 'MSET keys really spread over 3 backends')

  const order = [keys[5]!, 'mk:missing1', keys[59]!, keys[0]!, keys[5]!, 'mk:missing2', ...keys.slice(10, 40).reverse()]
  const mget = plain(await client.call(['MGET', ...order]))
  t.same(mget, order.map((k) => (k.startsWith('mk:missing') ? null : `val-${k}`)), 'MGET in request key order, nulls for missing, duplicates repeated')

  const existsArgs = [keys[1]!, keys[1]!, 'mk:missing1', keys[2]!, keys[3]!]
  t.same(plain(await client.call(['EXISTS', ...existsArgs])), 4, 'EXISTS sums across backends, counting repeats')
  t.same(plain(await client.call(['TOUCH', keys[1]!, keys[2]!, 'mk:missing1'])), 2, 'TOUCH sums')

  const delKeys = keys.slice(0, 20)
  t.same(plain(await client.call(['DEL', ...delKeys, 'mk:missing1', keys[0]!])), 20, 'DEL sums distinct deleted keys')
  t.same(plain(await client.call(['UNLINK', ...keys.slice(20, 30), 'mk:missing2'])), 10, 'UNLINK sums')
  const holders = await holdersOf(backends, keys)
  t.same(holders.slice(0, 30).filter((h) => h.length > 0), [], 'deleted keys are gone from every backend')
  t.same(holders.slice(30).filter((h) => h.length !== 1), [], 'the other keys are untouched')
  t.same(plain(await client.call(['DEL', 'mk:missing1', 'mk:missing2'])), 0, 'DEL of missing keys sums to 0')
})

/** Two hash tags whose keys the proxy places on different backends. */
async function tagsOnDifferentBackends(prefix: string): Promise<[string, string]> {
  const probes = Array.from({ length: 20 }, (_, i) => `{${prefix}${i}}probe`)
  await client.pipeline(probes.map((k) => ['SET', k, 'probe']))
  const owners = await ownersOf(backends, probes)
  await client.call(['DEL', ...probes])
  const j = owners.findIndex((o) => o !== owners[0])
  if (j < 0) throw new Error('20 tags all on one backend: the proxy is not spreading keys')
  return [`${prefix}0`, `${prefix}${j}`]
}

t.test('same-backend commands: work within a tag, refused across backends, nothing written', async (t) => {
  const [ta, tb] = await tagsOnDifferentBackends('cross')
  const a = `{${ta}}`
  const dst = `{${tb}}dst`
  await client.pipeline([
    ['SET', `${a}str`, 'A'],
    ['SET', `${a}n`, '1'],
    ['SADD', `${a}set`, 'm'],
    ['RPUSH', `${a}list`, 'x'],
    ['ZADD', `${a}z`, '1', 'm'],
  ])
  const crossCases: CommandArg[][] = [
    ['RENAME', `${a}str`, dst],
    ['RENAMENX', `${a}str`, dst],
    ['SMOVE', `${a}set`, dst, 'm'],
    ['LMOVE', `${a}list`, dst, 'LEFT', 'RIGHT'],
    ['RPOPLPUSH', `${a}list`, dst],
    ['SINTERSTORE', dst, `${a}set`, `${a}set`],
    ['SUNIONSTORE', dst, `${a}set`],
    ['ZUNIONSTORE', dst, '1', `${a}z`],
    ['EVAL', "return redis.call('SET', KEYS[2], redis.call('GET', KEYS[1]))", '2', `${a}str`, dst],
    ['MSETNX', `${a}new`, '1', dst, '2'],
  ]
  for (const cmd of crossCases) {
    const reply = await client.call(cmd)
    const name = String(cmd[0])
    t.ok(reply.kind === 'error' && /^ERR /.test(reply.value), `${name} across backends -> -ERR`, { got: plain(reply) })
    t.same((await holdersOf(backends, [dst]))[0], [], `${name}: nothing written to ${dst}`)
  }
  const untouched = await client.pipeline([['GET', `${a}str`], ['SCARD', `${a}set`], ['LLEN', `${a}list`], ['EXISTS', `${a}new`]])
  t.same(untouched.map(plain), ['A', 1, 1, 0], 'sources untouched')

  const ok = await client.pipeline([
    ['SET', '{t1}src', 'v'],
    ['RENAME', '{t1}src', '{t1}dst'],
    ['SADD', '{t1}s1', 'x', 'y'],
    ['SADD', '{t1}s2', 'y', 'z'],
    ['SINTERSTORE', '{t1}inter', '{t1}s1', '{t1}s2'],
    ['SUNIONSTORE', '{t1}union', '{t1}s1', '{t1}s2'],
    ['SMOVE', '{t1}s1', '{t1}s2', 'x'],
    ['RPUSH', '{t1}l', 'a', 'b'],
    ['LMOVE', '{t1}l', '{t1}l2', 'LEFT', 'RIGHT'],
    ['ZADD', '{t1}z', '1', 'm'],
    ['ZUNIONSTORE', '{t1}zu', '1', '{t1}z'],
    ['EVAL', "return redis.call('SET', KEYS[2], redis.call('GET', KEYS[1]))", '2', '{t1}dst', '{t1}copy'],
    ['MSETNX', '{t1}n1', '1', '{t1}n2', '2'],
    ['MGET', '{t1}dst', '{t1}copy', '{t1}n1', '{t1}n2'],
  ])
  t.same(ok.map(plain), [
    { ok: 'OK' }, { ok: 'OK' }, 2, 2, 1, 3, 1, 2, 'a', 1, 1, { ok: 'OK' }, 1, ['v', 'v', '1', '2'],
  ], 'same-tag multi-key commands run')
  const tagged = ['{t1}dst', '{t1}copy', '{t1}inter', '{t1}union', '{t1}s2', '{t1}l2', '{t1}zu', '{t1}n1', '{t1}n2']
  t.equal(new Set(await ownersOf(backends, tagged)).size, 1, 'all results live on the tag\'s backend')
})

t.test('MULTI/EXEC across backends is refused and applies nothing', async (t) => {
  const [ta, tb] = await tagsOnDifferentBackends('txcross')
  const a = `{${ta}}k`
  const b = `{${tb}}k`
  const conn = await RespConnection.connect(cluster.port, { t })
  const replies = await conn.pipeline([['MULTI'], ['SET', a, '1'], ['SET', b, '2'], ['EXEC']])
  t.ok(replies.some((r) => r.kind === 'error'), 'an error reply in the transaction', { replies: replies.map(plain) })
  const exec = replies[3]!
  t.ok(exec.kind === 'error' || (exec.kind === 'array' && exec.value === null), 'EXEC does not report success', { exec: plain(exec) })
  const holders = await holdersOf(backends, [a, b])
  t.same(holders, [[], []], 'neither key was written')
  t.same(plain(await conn.call(['PING'])), { ok: 'PONG' }, 'connection usable afterwards, out of MULTI')
})

t.test('backends see no proxy-answered commands', async (t) => {
  const before = await onEachBackend(backends, [['INFO', 'commandstats']])
  await client.pipeline([['PING'], ['ECHO', 'x'], ['SELECT', '0']])
  const after = await onEachBackend(backends, [['INFO', 'commandstats']])
  for (let i = 0; i < 3; i++) {
    const count = (r: unknown, cmd: string): number => {
      const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(String(r))
      return m === null ? 0 : Number(m[1])
    }
    for (const cmd of ['echo', 'select']) {
      t.equal(count(plain(after[i]![0]!), cmd), count(plain(before[i]![0]!), cmd), `backend ${i}: no ${cmd} forwarded`)
    }
  }
})
