// Differential test of a 3-rack cluster (2 nodes per rack, so keys really spread): each group of commands through a random node vs a standalone Redis.
// It must never pick the node in a way that cannot be reproduced: the seed is printed, and CLUSTER_TEST_SEED replays it.

import t from 'tap'
import type { Test } from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { Cluster, ClusterNode } from '../helpers/cluster.ts'
import { approx, differential, step, unordered } from '../helpers/differential.ts'
import type { Step } from '../helpers/differential.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'
import type { RedisServer } from '../helpers/redis-server.ts'

const seed = Number(process.env['CLUSTER_TEST_SEED'] ?? Date.now() % 1_000_000)
t.comment(`node choice seed ${seed} (CLUSTER_TEST_SEED=${seed} replays it)`)
let state = seed
/** A small LCG: enough to spread groups over nodes, and replayable. */
function nextRandom(): number {
  state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
  return state / 2 ** 32
}

const [cluster, reference] = await Promise.all([
  startCluster(t, {
    dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }, { name: 'rack2', nodes: 2 }, { name: 'rack3', nodes: 2 }] }],
  }),
  startRedis(t),
])

/** The steps through one random node and on the reference, reply by reply. */
async function through(t: Test, c: Cluster, ref: RedisServer, steps: Step[]): Promise<ClusterNode> {
  const node = c.nodes[Math.floor(nextRandom() * c.nodes.length)]!
  t.comment(`through ${node.name}`)
  await differential(t, { reference: ref, targets: [{ name: `cluster via ${node.name}`, port: node.clientPort, backends: [] }] }, steps)
  return node
}

/** Enough keys that every one of the 6 nodes owns several. */
const many = Array.from({ length: 24 }, (_, i) => `m:${i}`)

t.test('the keys of the test really spread over every node of each rack', async (t) => {
  for (const rack of ['rack1', 'rack2', 'rack3']) {
    const owners = new Set(many.map((k) => cluster.ownerOf(k, 'dc1', rack).index))
    t.equal(owners.size, 2, `${rack}: both nodes own some of the multi-key keys`)
  }
})

t.test('strings', async (t) => {
  await through(t, cluster, reference, [
    step('SET', 's:a', 'hello'),
    step('GET', 's:a'),
    step('GET', 's:missing'),
    step('SET', 's:a', 'world', 'GET'),
    step('SET', 's:a', 'x', 'NX'),
    step('SET', 's:new', 'x', 'XX'),
    step('APPEND', 's:a', ' and more'),
    step('APPEND', 's:fresh', 'abc'),
    step('STRLEN', 's:a'),
    step('GETRANGE', 's:a', '2', '-3'),
    step('SETRANGE', 's:a', '3', 'XYZ'),
    step('GET', 's:a'),
    step('INCR', 's:n'),
    step('INCRBY', 's:n', '41'),
    step('DECR', 's:n'),
    step('DECRBY', 's:n', '-8'),
    step('INCRBYFLOAT', 's:f', '1.25'),
    step('INCR', 's:a'),
    step('SETNX', 's:nx', '1'),
    step('SETNX', 's:nx', '2'),
    step('GETSET', 's:nx', '3'),
    step('GETDEL', 's:nx'),
    step('GETDEL', 's:nx'),
    step('SET', 's:empty', ''),
    step('GET', 's:empty'),
    step('SET', 's:bin', Buffer.from([0, 255, 13, 10, 36, 42])),
    step('GET', 's:bin'),
  ])
})

t.test('multi-key commands over keys owned by every node', async (t) => {
  await through(t, cluster, reference, [
    step('MSET', ...many.flatMap((k, i) => [k, `v${i}`])),
    step('MGET', ...many),
    step('MGET', 'm:none', ...many.slice(0, 7), 'm:none2', ...many.slice(7).reverse(), many[0]!),
    step('EXISTS', ...many, 'm:none', many[3]!),
    step('TOUCH', ...many.slice(0, 10), 'm:none'),
    step('DEL', ...many.slice(0, 8), 'm:none'),
    step('MGET', ...many),
    step('UNLINK', ...many.slice(8, 16), 'm:none'),
    step('EXISTS', ...many),
    step('DEL', ...many),
    step('MGET', ...many.slice(0, 5)),
    step('EXISTS', ...many),
  ])
})

t.test('a multi-key write through one node is read back through every node', async (t) => {
  const keys = many.map((k) => `x${k}`)
  const writer = await through(t, cluster, reference, [step('MSET', ...keys.flatMap((k, i) => [k, `w${i}`])), step('DEL', keys[0]!)])
  const want = [null, ...keys.slice(1).map((_, i) => `w${i + 1}`)]
  for (const n of cluster.nodes) {
    // DC_ONE: the writer's rack answered the write, so its nodes must see it at once; other racks get it asynchronously.
    let last: unknown
    await waitFor(
      async () => {
        last = plain(await n.call('MGET', ...keys))
        return n.rack === writer.rack || JSON.stringify(last) === JSON.stringify(want)
      },
      5000,
      `MGET via ${n.name} to show the write`,
    ).catch(() => undefined)
    t.same(last, want, `MGET via ${n.name} (${n.rack === writer.rack ? 'same rack as the writer' : 'another rack'})`)
  }
})

t.test('hashes', async (t) => {
  await through(t, cluster, reference, [
    step('HSET', 'h:a', 'f1', 'v1', 'f2', 'v2', 'f3', '3'),
    step('HGET', 'h:a', 'f1'),
    step('HGET', 'h:a', 'nope'),
    step('HMGET', 'h:a', 'f1', 'nope', 'f3'),
    step('HINCRBY', 'h:a', 'f3', '4'),
    step('HINCRBYFLOAT', 'h:a', 'f4', '0.5'),
    step('HSETNX', 'h:a', 'f1', 'x'),
    step('HEXISTS', 'h:a', 'f2'),
    step('HDEL', 'h:a', 'f2', 'nope'),
    step('HLEN', 'h:a'),
    step('HSTRLEN', 'h:a', 'f1'),
    unordered('HKEYS', 'h:a'),
    unordered('HVALS', 'h:a'),
    step('HGETALL', 'h:small'),
    step('HGET', 's:a', 'f'),
  ])
})

t.test('lists', async (t) => {
  await through(t, cluster, reference, [
    step('RPUSH', 'l:a', 'a', 'b', 'c', 'd'),
    step('LPUSH', 'l:a', 'z'),
    step('LRANGE', 'l:a', '0', '-1'),
    step('LLEN', 'l:a'),
    step('LINDEX', 'l:a', '2'),
    step('LSET', 'l:a', '1', 'A'),
    step('LINSERT', 'l:a', 'BEFORE', 'c', 'bc'),
    step('LREM', 'l:a', '0', 'd'),
    step('LPOP', 'l:a'),
    step('RPOP', 'l:a', '2'),
    step('LPOS', 'l:a', 'A'),
    step('LTRIM', 'l:a', '0', '0'),
    step('LRANGE', 'l:a', '0', '-1'),
    step('RPUSHX', 'l:none', 'x'),
    step('LPOP', 'l:none'),
  ])
})

t.test('sets', async (t) => {
  await through(t, cluster, reference, [
    step('SADD', 'set:a', 'x', 'y', 'z', 'x'),
    step('SCARD', 'set:a'),
    step('SISMEMBER', 'set:a', 'y'),
    step('SMISMEMBER', 'set:a', 'y', 'q'),
    unordered('SMEMBERS', 'set:a'),
    step('SREM', 'set:a', 'y', 'q'),
    unordered('SMEMBERS', 'set:a'),
    step('SADD', 'set:a', 'x'),
  ])
})

t.test('sorted sets', async (t) => {
  await through(t, cluster, reference, [
    step('ZADD', 'z:a', '1', 'one', '2', 'two', '3', 'three'),
    step('ZADD', 'z:a', 'XX', 'CH', '5', 'one'),
    step('ZSCORE', 'z:a', 'one'),
    step('ZINCRBY', 'z:a', '1.5', 'two'),
    step('ZRANGE', 'z:a', '0', '-1', 'WITHSCORES'),
    step('ZRANGEBYSCORE', 'z:a', '2', '4'),
    step('ZREVRANGE', 'z:a', '0', '1'),
    step('ZRANK', 'z:a', 'three'),
    step('ZCARD', 'z:a'),
    step('ZCOUNT', 'z:a', '-inf', '+inf'),
    step('ZREM', 'z:a', 'two', 'nope'),
    step('ZPOPMIN', 'z:a'),
    step('ZRANGE', 'z:a', '0', '-1', 'WITHSCORES'),
  ])
})

t.test('expiry', async (t) => {
  await through(t, cluster, reference, [
    step('SET', 'e:a', 'v', 'EX', '100'),
    approx(1, 'TTL', 'e:a'),
    step('SET', 'e:b', 'v'),
    step('TTL', 'e:b'),
    step('TTL', 'e:none'),
    step('EXPIRE', 'e:b', '200'),
    approx(1, 'TTL', 'e:b'),
    step('PEXPIRE', 'e:b', '300000'),
    approx(1000, 'PTTL', 'e:b'),
    step('PERSIST', 'e:b'),
    step('TTL', 'e:b'),
    step('EXPIREAT', 'e:b', '4102444800'),
    step('EXPIRETIME', 'e:b'),
    step('EXPIRE', 'e:none', '10'),
    step('SETEX', 'e:c', '50', 'v'),
    approx(1, 'TTL', 'e:c'),
    step('EXPIRE', 'e:c', '0'),
    step('EXISTS', 'e:c'),
  ])
})

t.test('hash-tagged multi-key commands stay on one node', async (t) => {
  await through(t, cluster, reference, [
    step('SET', '{t}a', '1'),
    step('RENAME', '{t}a', '{t}b'),
    step('GET', '{t}a'),
    step('GET', '{t}b'),
    step('SET', '{t}c', '3'),
    step('RENAMENX', '{t}b', '{t}c'),
    step('COPY', '{t}b', '{t}d'),
    step('MGET', '{t}b', '{t}c', '{t}d'),
    step('MSETNX', '{t}x', '1', '{t}y', '2'),
    step('MSETNX', '{t}y', '9', '{t}z', '9'),
    step('SADD', '{t}s1', 'a', 'b', 'c'),
    step('SADD', '{t}s2', 'b', 'c', 'd'),
    step('SINTERSTORE', '{t}s3', '{t}s1', '{t}s2'),
    unordered('SMEMBERS', '{t}s3'),
    unordered('SUNION', '{t}s1', '{t}s2'),
    step('SMOVE', '{t}s1', '{t}s2', 'a'),
    step('SCARD', '{t}s2'),
    step('RPUSH', '{t}l1', '1', '2', '3'),
    step('LMOVE', '{t}l1', '{t}l2', 'LEFT', 'RIGHT'),
    step('RPOPLPUSH', '{t}l1', '{t}l2'),
    step('LRANGE', '{t}l2', '0', '-1'),
    step('ZADD', '{t}z1', '1', 'a', '2', 'b'),
    step('ZADD', '{t}z2', '3', 'b', '4', 'c'),
    step('ZUNIONSTORE', '{t}z3', '2', '{t}z1', '{t}z2'),
    step('ZRANGE', '{t}z3', '0', '-1', 'WITHSCORES'),
    step('DEL', '{t}a', '{t}b', '{t}c', '{t}d'),
  ])
})
