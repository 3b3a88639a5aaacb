// Large values through dynoproxy over memcached: 1 MiB values whole and in pieces, and values over the item size limit.
// It must never accept a reply stream out of step: every oversized request is followed by one that must still work.

import t from 'tap'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import { ITEM_SIZE_LIMIT, mcOwnersOf, startMemcached, startProxiedMemcached } from '../helpers/memcached.ts'
import { randomCuts, seededRandom } from '../helpers/memcached-differential.ts'

const MIB = 1024 * 1024
const cluster = await startProxiedMemcached(t, { backends: 3 })
const reference = await startMemcached(t)

/** A value whose bytes depend on the key and include CR LF and "END" sequences. */
function bigValue(key: string, size: number): Buffer {
  const v = Buffer.alloc(size)
  const random = seededRandom([...key].reduce((h, c) => h * 31 + c.charCodeAt(0), 7))
  for (let i = 0; i < size; i++) v[i] = (random() * 256) >>> 0
  Buffer.from('\r\nEND\r\nVALUE x 0 1\r\n').copy(v, 1000)
  return v
}

function valueReply(key: string, value: Buffer, flags = 0): Buffer {
  return Buffer.concat([Buffer.from(`VALUE ${key} ${flags} ${value.length}\r\n`), value, Buffer.from('\r\nEND\r\n')])
}

t.test('1 MiB values: set then get, several pipelined in one write', async (t) => {
  // 12 keys: the backends' ports (so the ring) differ per run, and 6 keys all landed on one backend once in a while.
  const keys = Array.from({ length: 12 }, (_, i) => `big:${i}`)
  const values = keys.map((k) => bigValue(k, MIB))
  const conn = await McConnection.connect(cluster.port, { t })
  conn.write(Buffer.concat(keys.map((k, i) => storage('set', k, values[i]!))))
  t.same((await conn.read(keys.length, 20_000)).map((r) => r.head), keys.map(() => 'STORED'))
  conn.write(keys.map((k) => `get ${k}\r\n`).join(''))
  const got = await conn.read(keys.length, 20_000)
  got.forEach((r, i) => t.ok(r.raw.equals(valueReply(keys[i]!, values[i]!)), `${keys[i]} read back byte for byte`))
  const owners = await mcOwnersOf(cluster.backends, keys)
  t.ok(new Set(owners).size >= 2, `spread over backends ${owners.join(',')}`)
})

t.test('1 MiB values written in random pieces, and a multi-get of them across backends', async (t) => {
  const keys = Array.from({ length: 4 }, (_, i) => `bigp:${i}`)
  const values = keys.map((k) => bigValue(k, MIB + 17))
  const bytes = Buffer.concat([...keys.map((k, i) => storage('set', k, values[i]!, { flags: 9 })), Buffer.from(`get ${keys.join(' ')}\r\n`)])
  const conn = await McConnection.connect(cluster.port, { t })
  await conn.writeInPieces(bytes, randomCuts(bytes.length, 60, seededRandom(3)))
  const replies = await conn.read(keys.length + 1, 20_000)
  t.same(replies.slice(0, keys.length).map((r) => r.head), keys.map(() => 'STORED'))
  const want = Buffer.concat([
    ...keys.map((k, i) => Buffer.concat([Buffer.from(`VALUE ${k} 9 ${values[i]!.length}\r\n`), values[i]!, Buffer.from('\r\n')])),
    Buffer.from('END\r\n'),
  ])
  t.ok(replies[keys.length]!.raw.equals(want), 'merged multi-get of 4 values over 1 MiB, byte for byte')
})

t.test('meta: ms and mg of a 1 MiB value', async (t) => {
  const value = bigValue('bigmeta', MIB)
  const conn = await McConnection.connect(cluster.port, { t })
  conn.write(Buffer.concat([Buffer.from(`ms bigmeta ${value.length} T0 F5\r\n`), value, Buffer.from(`\r\nmg bigmeta v f s\r\nmn\r\n`)]))
  const [stored, got, mn] = await conn.read(3, 20_000)
  t.equal(stored!.head, 'HD')
  t.ok(got!.raw.equals(Buffer.concat([Buffer.from(`VA ${MIB} f5 s${MIB}\r\n`), value, Buffer.from('\r\n')])), 'VA block byte for byte')
  t.equal(mn!.head, 'MN')
})

/** Runs the same bytes on the reference memcached and the proxy; returns both reply heads. */
async function both(bytes: Buffer, count: number): Promise<{ proxy: string[]; direct: string[] }> {
  const run = async (port: number): Promise<string[]> => {
    const conn = await McConnection.connect(port)
    try {
      conn.write(bytes)
      return (await conn.read(count, 20_000)).map((r) => r.raw.toString('latin1'))
    } finally {
      conn.destroy()
    }
  }
  const [proxy, direct] = await Promise.all([run(cluster.port), run(reference.port)])
  return { proxy: proxy!, direct: direct! }
}

t.test('over the item size limit: SERVER_ERROR object too large for cache, the stream stays in sync', async (t) => {
  const tooBig = bigValue('huge', ITEM_SIZE_LIMIT + 1024)
  const bytes = Buffer.concat([
    storage('set', 'huge', 'small'),
    storage('set', 'huge', tooBig),
    Buffer.from('get huge\r\n'),
    storage('set', 'after', 'fine'),
    Buffer.from('get after\r\n'),
  ])
  const { proxy, direct } = await both(bytes, 5)
  t.same(proxy[1], 'SERVER_ERROR object too large for cache\r\n', 'refused in memcached\'s words')
  t.same([proxy[3], proxy[4]], ['STORED\r\n', 'VALUE after 0 4\r\nfine\r\nEND\r\n'], 'the requests after it work: the stream is in sync')
  // memcached unlinks the key of a too-large set, so a stale value is not served after a failed overwrite.
  t.equal(proxy[2], 'END\r\n', 'the old value is gone, as with memcached')
  t.same(proxy, direct, 'same replies as memcached')
})

t.test('just under the proxy limit but over memcached\'s own (item header counts there): memcached\'s answer passes through', async (t) => {
  const nearly = bigValue('near', ITEM_SIZE_LIMIT - 8)
  const bytes = Buffer.concat([storage('set', 'near', nearly), Buffer.from('get near\r\nversion\r\n')])
  const { proxy, direct } = await both(bytes, 3)
  t.equal(proxy[0], 'SERVER_ERROR object too large for cache\r\n')
  t.same(proxy, direct)
})

t.test('too large with noreply, with ms, and written in pieces', async (t) => {
  const tooBig = bigValue('huge2', ITEM_SIZE_LIMIT + 1)
  const bytes = Buffer.concat([
    storage('set', 'huge2', tooBig, { noreply: true }),
    Buffer.from(`ms huge3 ${tooBig.length} T0\r\n`), tooBig, Buffer.from('\r\n'),
    storage('set', 'huge4', 'ok'),
    Buffer.from('mg huge4 v\r\nmn\r\n'),
  ])
  const direct = await (async () => {
    const conn = await McConnection.connect(reference.port)
    conn.write(bytes)
    const r = await conn.readThroughMn(1, 20_000)
    conn.destroy()
    return r.map((x) => x.raw.toString('latin1'))
  })()
  const conn = await McConnection.connect(cluster.port, { t })
  await conn.writeInPieces(bytes, randomCuts(bytes.length, 40, seededRandom(5)))
  const proxy = (await conn.readThroughMn(1, 20_000)).map((x) => x.raw.toString('latin1'))
  t.same(proxy, direct, 'same replies as memcached')
  t.equal(proxy[proxy.length - 2], 'VA 2\r\nok\r\n', 'the request after them works')
})
