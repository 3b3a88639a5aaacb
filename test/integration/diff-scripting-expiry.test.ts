// Differential test: Lua scripting, expiry and MULTI/EXEC on one hash tag, direct redis-server vs dynoproxy (1 and 3 backends).
// It must never wait by sleeping: expiry is observed by polling each target until the key is gone, with a deadline.

import { createHash } from 'node:crypto'
import t from 'tap'
import { approx, differential, startDiffTargets, step } from '../helpers/differential.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

const env = await startDiffTargets(t)

const SET_AND_GET = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"
const TWO_KEYS = "redis.call('SET', KEYS[2], redis.call('INCRBY', KEYS[1], ARGV[1])); return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), #KEYS, ARGV[2]}"
const RETURN_TYPES = "return {1, 'two', 3.7, true, false, {nil}, redis.status_reply('FINE')}"
const FAILS = "return redis.call('INCR', KEYS[1])"
const SHA_SET_AND_GET = createHash('sha1').update(SET_AND_GET).digest('hex')

t.test('scripting', async (t) => {
  const replies = await differential(t, env, [
    step('EVAL', SET_AND_GET, '1', '{lua1}a', 'value-1'),
    // Same tag, so the same backend, which cached the script at EVAL.
    step('EVALSHA', SHA_SET_AND_GET, '1', '{lua1}b', 'value-2'),
    step('MGET', '{lua1}a', '{lua1}b'),
    step('EVAL', TWO_KEYS, '2', '{lua}n', '{lua}copy', '5', 'extra'),
    step('EVAL', TWO_KEYS, '2', '{lua}n', '{lua}copy', '5', 'extra'),
    step('EVAL_RO', "return redis.call('GET', KEYS[1])", '1', '{lua}copy'),
    step('EVAL', RETURN_TYPES, '1', 'lua:types'),
    step('SET', 'lua:str', 'abc'),
    step('EVAL', FAILS, '1', 'lua:str'),
    step('EVAL', 'return redis.error_reply("MYERR custom")', '1', 'lua:x'),
    step('EVAL', 'this is not lua', '1', 'lua:x'),
    step('EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '1', 'lua:x'),
    step('EVAL', SET_AND_GET, '2', '{lua1}a'),
    step('EVAL', SET_AND_GET, 'x', '{lua1}a'),
    step('EVAL'),
  ])
  t.same(plain(replies[0]!), 'value-1', 'reference sanity: EVAL ran')
})

t.test('MULTI/EXEC within one hash tag', async (t) => {
  await differential(t, env, [
    step('MULTI'),
    step('SET', '{tx}a', '1'),
    step('INCRBY', '{tx}a', '9'),
    step('RPUSH', '{tx}list', 'x', 'y'),
    step('GET', '{tx}a'),
    step('EXEC'),
    step('MULTI'),
    step('SET', '{tx}b', '1'),
    step('DISCARD'),
    step('GET', '{tx}b'),
    step('MULTI'),
    step('INCR', '{tx}list'),
    step('SET', '{tx}c', 'ok'),
    step('EXEC'),
    step('GET', '{tx}c'),
    step('EXEC'),
    step('DISCARD'),
    step('MULTI'),
    step('GET'),
    step('SET', '{tx}d', '1'),
    step('EXEC'),
    step('EXISTS', '{tx}d'),
  ])
})

t.test('expiry', async (t) => {
  const future = String(Math.floor(Date.now() / 1000) + 10_000)
  await differential(t, env, [
    step('SET', 'e:a', 'v', 'EX', '1000'),
    approx(1, 'TTL', 'e:a'),
    approx(1500, 'PTTL', 'e:a'),
    step('TTL', 'e:none'),
    step('SET', 'e:persist', 'v'),
    step('TTL', 'e:persist'),
    step('EXPIRE', 'e:persist', '500'),
    step('EXPIRE', 'e:persist', '600', 'NX'),
    step('EXPIRE', 'e:persist', '700', 'GT'),
    step('EXPIRE', 'e:persist', '100', 'LT'),
    approx(1, 'TTL', 'e:persist'),
    step('PERSIST', 'e:persist'),
    step('PERSIST', 'e:persist'),
    step('TTL', 'e:persist'),
    step('PEXPIRE', 'e:persist', '900000'),
    approx(1500, 'PTTL', 'e:persist'),
    step('EXPIREAT', 'e:persist', future),
    step('EXPIRETIME', 'e:persist'),
    step('PEXPIREAT', 'e:persist', `${future}000`),
    step('PEXPIRETIME', 'e:persist'),
    step('EXPIRETIME', 'e:none'),
    step('SET', 'e:persist', 'w', 'KEEPTTL'),
    step('EXPIRETIME', 'e:persist'),
    step('SET', 'e:exat', 'v', 'EXAT', future),
    step('EXPIRETIME', 'e:exat'),
    step('GETEX', 'e:exat', 'PX', '5000000'),
    approx(1500, 'PTTL', 'e:exat'),
    step('EXPIRE', 'e:exat', 'soon'),
    step('EXPIRE', 'e:none', '10'),
    step('EXPIRE', 'e:exat', '-1'),
    step('EXISTS', 'e:exat'),
  ])
})

t.test('keys expire through the proxy as they do directly', async (t) => {
  const all = [{ name: 'direct', port: env.reference.port }, ...env.targets]
  await Promise.all(
    all.map(async (target) => {
      const conn = await RespConnection.connect(target.port, { t })
      const set = await conn.pipeline([
        ['SET', 'e:short1', 'v', 'PX', '150'],
        ['SET', 'e:short2', 'v', 'PX', '150'],
        ['SET', 'e:short3', 'v', 'PX', '150'],
        ['SET', 'e:long', 'v'],
      ])
      t.same(set.map(plain), [{ ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }, { ok: 'OK' }], `${target.name}: set`)
      const started = Date.now()
      await waitFor(
        async () => plain(await conn.call(['EXISTS', 'e:short1', 'e:short2', 'e:short3', 'e:long'])) === 1,
        5000,
        `${target.name}: short keys to expire`,
      )
      t.ok(Date.now() - started >= 100, `${target.name}: keys lived about their PX`)
    }),
  )
})
