// Bad input on dynoproxy's memcached port: each case gets memcached's reply (or that one connection closed), nothing else affected.
// It must never let a bad client disturb another: a bystander connection checks every one of its replies throughout.

import t from 'tap'
import type { Test } from 'tap'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import { startMemcached, startProxiedMemcached } from '../helpers/memcached.ts'

const cluster = await startProxiedMemcached(t, { backends: 2 })
const reference = await startMemcached(t)

/** A client doing set+get of its own keys until stopped, checking every reply; its failures are the test's. */
function bystander(port: number): { stop: () => Promise<{ rounds: number; wrong: string[] }> } {
  let running = true
  const wrong: string[] = []
  let rounds = 0
  const done = (async () => {
    const conn = await McConnection.connect(port)
    try {
      while (running) {
        const key = `by:${rounds % 17}`
        const value = `value-${rounds}`
        conn.write(Buffer.concat([storage('set', key, value), Buffer.from(`get ${key} by:none\r\n`)]))
        const [stored, got] = await conn.read(2, 3000)
        if (stored!.head !== 'STORED') wrong.push(`set: ${stored!.head}`)
        if (got!.raw.toString('latin1') !== `VALUE ${key} 0 ${value.length}\r\n${value}\r\nEND\r\n`) wrong.push(`get: ${got!.head}`)
        rounds++
      }
    } catch (err) {
      wrong.push(`bystander: ${(err as Error).message}`)
    } finally {
      conn.destroy()
    }
  })()
  return {
    stop: async () => {
      running = false
      await done
      return { rounds, wrong }
    },
  }
}

const watcher = bystander(cluster.port)

/** Same bytes to memcached and to the proxy: the replies (up to the final mn's MN) must be equal. */
async function sameAsMemcached(t: Test, label: string, bytes: Buffer | string): Promise<string[]> {
  const run = async (port: number): Promise<string[]> => {
    const conn = await McConnection.connect(port)
    try {
      conn.write(bytes)
      conn.write('mn\r\n')
      return (await conn.readThroughMn(1, 5000)).map((r) => r.raw.toString('latin1'))
    } finally {
      conn.destroy()
    }
  }
  const [proxy, direct] = await Promise.all([run(cluster.port), run(reference.port)])
  t.same(proxy, direct, `${label}: same replies as memcached`)
  return proxy!
}

t.test('unknown command, missing arguments: ERROR, then the connection reads on', async (t) => {
  const replies = await sameAsMemcached(t, 'unknown', 'frobnicate x y\r\nget\r\nset k\r\n\r\nversion\r\n')
  t.same(replies.slice(0, 4), ['ERROR\r\n', 'ERROR\r\n', 'ERROR\r\n', 'ERROR\r\n'])
})

t.test('keys: 250 bytes fine, 251 refused in every command that takes a key', async (t) => {
  const ok = 'k'.repeat(250)
  const long = 'k'.repeat(251)
  const replies = await sameAsMemcached(
    t,
    'key length',
    Buffer.concat([
      storage('set', ok, 'v'),
      Buffer.from(`get ${ok}\r\n`),
      storage('set', long, 'v'),
      Buffer.from(`delete ${long}\r\nincr ${long} 1\r\ntouch ${long} 1\r\nmg ${long} v\r\nmd ${long}\r\n`),
    ]),
  )
  t.same(replies.slice(0, 2), ['STORED\r\n', `VALUE ${ok} 0 1\r\nv\r\nEND\r\n`])
  t.equal(replies[2], 'CLIENT_ERROR bad command line format\r\n', 'set of a 251-byte key')
  t.ok(replies.slice(4, -1).every((r) => r.startsWith('CLIENT_ERROR')), 'every other command refuses it too')
  // A get of a too-long key comes last: memcached drops replies queued before it in the same read.
  const get = await sameAsMemcached(t, 'get of a long key', `get ${long}\r\n`)
  t.equal(get[0], 'CLIENT_ERROR bad command line format\r\n')
})

t.test('bad, negative and huge lengths; bad data chunk terminators', async (t) => {
  const replies = await sameAsMemcached(
    t,
    'lengths',
    'set a 0 0 abc\r\nset a 0 0 -1\r\nset a 0 0 99999999999999999999\r\nset a 0 0 3\r\nabcXY\r\nset a 0 0 3\r\nabc\n\r\nget a\r\n',
  )
  t.equal(replies[0], 'CLIENT_ERROR bad command line format\r\n', 'non-numeric length')
  t.equal(replies[1], 'CLIENT_ERROR bad command line format\r\n', 'negative length')
  t.ok(replies.includes('CLIENT_ERROR bad data chunk\r\n'), 'bad data chunk')
  await sameAsMemcached(t, 'ms lengths', 'ms a -1\r\nms a abc\r\nms a 3\r\nabcde\r\nms a 2 T0\r\nok\r\nmg a v\r\n')
})

t.test('a line longer than 2048 bytes without a newline, or an HTTP request: closed without a reply, as memcached does', async (t) => {
  for (const [name, port] of [['memcached', reference.port], ['proxy', cluster.port]] as const) {
    for (const [what, bytes] of [['long line', `set ${'x'.repeat(4000)}`], ['HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']]) {
      const conn = await McConnection.connect(port, { t })
      conn.write(bytes!)
      await conn.waitClosed(3000)
      t.equal(conn.reader.pending, 0, `${name}, ${what}: closed without a reply`)
    }
  }
})

t.test('a get line longer than 2048 bytes is fine (many keys)', async (t) => {
  const keys = Array.from({ length: 400 }, (_, i) => `many:${i}`)
  await sameAsMemcached(t, 'long get', `get ${keys.join(' ')}\r\n`)
})

t.test('binary protocol magic 0x80 as first byte: the proxy closes that connection', async (t) => {
  // memcached itself would switch to its binary protocol; the proxy speaks text only and says nothing.
  const conn = await McConnection.connect(cluster.port, { t })
  const getk = Buffer.alloc(24 + 3)
  getk[0] = 0x80
  getk[1] = 0x0c
  getk.writeUInt16BE(3, 2)
  getk.writeUInt32BE(3, 8)
  getk.write('abc', 24)
  conn.write(getk)
  await conn.waitClosed(3000)
  t.equal(conn.reader.pending, 0, 'closed without a reply')
  const later = await McConnection.connect(cluster.port, { t })
  t.equal(await later.head('version\r\n'), (await reference.call('version\r\n')).head, 'a new connection is served')
})

t.test('0x80 later in a text stream is just a bad command, not the binary protocol', async (t) => {
  await sameAsMemcached(t, '0x80 mid-stream', Buffer.from('version\r\n\x80\x01 junk\r\nversion\r\n', 'latin1'))
})

t.test('a meta q flag with bytes after the q is refused, not forwarded quiet (fuzz finding: it desynchronised the backend)', async (t) => {
  // memcached goes quiet on any flag token starting with q; the proxy cut only a bare " q", so "qR..." reached the backend, whose
  // missing EN reply then paired the next client's reply on that connection with this mg ("Protocol error from the datastore").
  const other = await McConnection.connect(cluster.port)
  t.teardown(() => other.destroy())
  t.equal((await other.call('delete fz:n\r\n')).head.replace('NOT_FOUND', 'DELETED'), 'DELETED')
  const bad = await McConnection.connect(cluster.port)
  t.teardown(() => bad.destroy())
  bad.write(Buffer.from('mg fz:n l qR\x03\xba|\xf6\x08 c\r\ntouch fz', 'latin1')) // the fuzz input, byte for byte
  t.equal((await bad.read(1, 5000))[0]!.head, 'CLIENT_ERROR invalid flag')
  const [stored, got] = (other.write(Buffer.concat([storage('set', 'fz:n', 'after'), Buffer.from('get fz:n\r\n')])), await other.read(2, 5000))
  t.equal(stored!.head, 'STORED', 'the next request to that datastore gets its own reply')
  t.equal(got!.raw.toString('latin1'), 'VALUE fz:n 0 5\r\nafter\r\nEND\r\n')
  t.equal((await other.call('mg fz:missing q v\r\nmn\r\n')).head, 'MN', 'a bare q is still quiet: its EN is not shown')
})

t.test('many bad clients at once, each closed or answered, while the bystander keeps working', async (t) => {
  const bad = await Promise.all(Array.from({ length: 30 }, () => McConnection.connect(cluster.port)))
  bad.forEach((c, i) => {
    if (i % 3 === 0) c.write(Buffer.from([0x80, 0, 0, 0]))
    else if (i % 3 === 1) c.write('y'.repeat(5000))
    else c.write('bogus\r\nset z 0 0 2\r\nabcd\r\n')
  })
  for (let i = 0; i < bad.length; i++) {
    const c = bad[i]!
    if (i % 3 === 2) t.same((await c.read(3)).map((r) => r.head), ['ERROR', 'CLIENT_ERROR bad data chunk', 'ERROR'])
    else await c.waitClosed(3000)
    c.destroy()
  }
  const result = await watcher.stop()
  t.ok(result.rounds > 5, `bystander did ${result.rounds} rounds`)
  t.same(result.wrong, [], 'bystander saw only right replies and stayed connected')
  t.notOk(cluster.proxy.output().includes('"level":60'), 'no fatal log line')
})
