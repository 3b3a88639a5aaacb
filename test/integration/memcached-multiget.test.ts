// Multi-key get/gets/gat/gats through dynoproxy over 3 memcached backends: split per backend, merged back in key order.
// It must never take the proxy's word for placement: which backend holds a key is asked of each backend directly.

import t from 'tap'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import type { McReply } from '../helpers/memcached-reply-reader.ts'
import { mcOwnersOf, startMemcached, startProxiedMemcached } from '../helpers/memcached.ts'
import { seededRandom } from '../helpers/memcached-differential.ts'

const cluster = await startProxiedMemcached(t, { backends: 3 })
const reference = await startMemcached(t)
const keys = Array.from({ length: 90 }, (_, i) => `mk:${i}`)
const valueOf = (k: string): string => `value of ${k} `.repeat(1 + (k.length % 4))
const flagsOf = (k: string): number => k.length * 7

/** Sets every key with its own value and flags, through the given port, in one pipeline. */
async function load(port: number): Promise<void> {
  const conn = await McConnection.connect(port)
  conn.write(Buffer.concat(keys.map((k) => storage('set', k, valueOf(k), { flags: flagsOf(k) }))))
  const replies = await conn.read(keys.length, 10_000)
  conn.destroy()
  if (!replies.every((r) => r.head === 'STORED')) throw new Error(`loading failed: ${replies.map((r) => r.head).join(',')}`)
}
await Promise.all([load(cluster.port), load(reference.port)])
const owners = await mcOwnersOf(cluster.backends, keys)

/** The reply memcached gives to `get` of these keys: hits in request order (duplicates repeated), then END. */
function expectedGet(requested: readonly string[]): string {
  const present = new Set(keys)
  return (
    requested
      .filter((k) => present.has(k))
      .map((k) => `VALUE ${k} ${flagsOf(k)} ${Buffer.byteLength(valueOf(k))}\r\n${valueOf(k)}\r\n`)
      .join('') + 'END\r\n'
  )
}

async function one(port: number, request: string): Promise<McReply> {
  const conn = await McConnection.connect(port)
  try {
    return await conn.call(request, 10_000)
  } finally {
    conn.destroy()
  }
}

t.test('every key sits on exactly one backend, and all three backends hold some', async (t) => {
  for (let b = 0; b < 3; b++) t.ok(owners.filter((o) => o === b).length >= 10, `backend ${b} holds ${owners.filter((o) => o === b).length} keys`)
})

t.test('get over keys of all backends comes back in request order with one END', async (t) => {
  const random = seededRandom(7)
  const shuffled = [...keys].sort(() => random() - 0.5)
  const reply = await one(cluster.port, `get ${shuffled.join(' ')}\r\n`)
  t.equal(reply.raw.toString('latin1'), expectedGet(shuffled))
  t.equal(reply.raw.toString('latin1').split('END\r\n').length, 2, 'a single END')
})

t.test('duplicates and misses, interleaved across backends', async (t) => {
  const pick = (b: number, n: number): string[] => keys.filter((_, i) => owners[i] === b).slice(n, n + 2)
  const requested = [
    ...pick(0, 0), 'mk:none-1', ...pick(1, 0), ...pick(0, 0), 'mk:none-2', ...pick(2, 0), ...pick(1, 0), 'mk:none-1', ...pick(2, 1),
  ]
  const reply = await one(cluster.port, `get ${requested.join(' ')}\r\n`)
  t.equal(reply.raw.toString('latin1'), expectedGet(requested))
  t.equal(reply.raw.toString('latin1'), (await one(reference.port, `get ${requested.join(' ')}\r\n`)).raw.toString('latin1'), 'same as a single memcached')
  t.equal((await one(cluster.port, 'get mk:none-1 mk:none-2 mk:none-3\r\n')).raw.toString('latin1'), 'END\r\n', 'all misses: END')
})

t.test('keys all on one backend (not split) and a single key', async (t) => {
  const same = keys.filter((_, i) => owners[i] === 1)
  t.equal((await one(cluster.port, `get ${same.join(' ')}\r\n`)).raw.toString('latin1'), expectedGet(same))
  t.equal((await one(cluster.port, `get ${same[0]}\r\n`)).raw.toString('latin1'), expectedGet([same[0]!]))
})

t.test('gets, gat and gats merge the same way; each cas matches its own backend', async (t) => {
  const requested = [keys[3]!, 'mk:none', keys[40]!, keys[3]!, keys[77]!, keys[12]!]
  for (const verb of ['gets', 'gat 1000', 'gats 0']) {
    const reply = await one(cluster.port, `${verb} ${requested.join(' ')}\r\n`)
    const items = [...reply.raw.toString('latin1').matchAll(/VALUE (\S+) (\d+) (\d+)(?: (\d+))?\r\n/g)]
    t.same(items.map((m) => m[1]), requested.filter((k) => k !== 'mk:none'), `${verb}: keys in request order`)
    t.equal(items.every((m) => m[4] !== undefined), verb !== 'gat 1000', `${verb}: cas uniques present only for gets/gats`)
    // Ask each key's own backend for its cas: the proxy must not mix up which backend's item it returns.
    for (const m of items.filter((x) => x[4] !== undefined)) {
      const owner = cluster.backends[owners[keys.indexOf(m[1]!)]!]!
      const direct = await owner.call(`gets ${m[1]}\r\n`)
      t.equal(direct.head.split(' ')[4], m[4], `${verb}: cas of ${m[1]} is its backend's`)
    }
    t.ok(reply.raw.toString('latin1').endsWith('\r\nEND\r\n'), `${verb}: ends with END`)
  }
})

t.test('many multi-gets pipelined, each split differently, in one write', async (t) => {
  const random = seededRandom(11)
  const requests = Array.from({ length: 200 }, () => {
    const n = 1 + Math.floor(random() * 12)
    return Array.from({ length: n }, () => (random() < 0.15 ? `mk:miss${Math.floor(random() * 5)}` : keys[Math.floor(random() * keys.length)]!))
  })
  const conn = await McConnection.connect(cluster.port, { t })
  conn.write(requests.map((r) => `get ${r.join(' ')}\r\n`).join(''))
  const replies = await conn.read(requests.length, 15_000)
  const bad = replies.findIndex((r, i) => r.raw.toString('latin1') !== expectedGet(requests[i]!))
  t.equal(bad, -1, bad < 0 ? 'all 200 merged replies as expected' : `reply ${bad} for get ${requests[bad]!.join(' ')}`)
})

t.test('a multi-get of 2000 keys (most missing) still merges in order', async (t) => {
  const requested = Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? keys[(i / 10) % keys.length]! : `mk:absent:${i}`))
  const reply = await one(cluster.port, `get ${requested.join(' ')}\r\n`)
  t.equal(reply.raw.toString('latin1'), expectedGet(requested))
})
