// Faults behind dynoproxy's memcached pools: a backend killed and restarted on its port, a backend stopped (SIGSTOP) past the timeout.
// It must never accept a late or misattributed reply: after recovery every key must read back its own value.

import t from 'tap'
import type { Test } from 'tap'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import type { McReply } from '../helpers/memcached-reply-reader.ts'
import { mcOwnersOf, startMemcached, startProxiedMemcached } from '../helpers/memcached.ts'
import type { ProxiedMemcached } from '../helpers/memcached.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1000
const SLACK_MS = 1500
const REFUSED = 'SERVER_ERROR Storage: Connection refused'
const TIMED_OUT = 'SERVER_ERROR Storage: Connection timed out'
// completeLocally() judges "is this an error" by RESP's '-', so a memcached piece failed locally (server in back-off)
// merges as if it had no hits: its keys look like misses instead of the whole reply being the error line.

async function seeded(t: Test, prefix: string): Promise<{ cluster: ProxiedMemcached; keys: string[]; owners: number[] }> {
  const cluster = await startProxiedMemcached(t, { backends: 3, pool: { timeout: TIMEOUT_MS, auto_eject_hosts: false } })
  const keys = Array.from({ length: 45 }, (_, i) => `${prefix}:${i}`)
  const conn = await McConnection.connect(cluster.port)
  conn.write(Buffer.concat(keys.map((k) => storage('set', k, `v-${k}`))))
  const replies = await conn.read(keys.length)
  conn.destroy()
  if (!replies.every((r) => r.head === 'STORED')) throw new Error('seeding failed')
  const owners = await mcOwnersOf(cluster.backends, keys)
  if (new Set(owners).size !== 3) throw new Error('keys did not spread over all three backends')
  return { cluster, keys, owners }
}

function valueOf(reply: McReply | undefined): string | undefined {
  const m = /^VALUE \S+ 0 \d+\r\n(.*)\r\nEND\r\n$/s.exec(reply?.raw.toString('latin1') ?? '')
  return m === null ? undefined : m[1]
}

t.test('backend killed: its keys get Connection refused, others unaffected; restarted on its port: recovers', async (t) => {
  const { cluster, keys, owners } = await seeded(t, 'kill')
  const victim = owners[0]!
  const victimPort = cluster.backends[victim]!.port
  const mine = keys.filter((_, i) => owners[i] === victim)
  const others = keys.filter((_, i) => owners[i] !== victim)
  const conn = await McConnection.connect(cluster.port, { t })

  cluster.backends[victim]!.kill('SIGKILL')
  await cluster.backends[victim]!.exited
  // The first request may still meet the old connection's reset; after that the proxy must say refused.
  await waitFor(async () => (await conn.head(`get ${mine[0]}\r\n`, TIMEOUT_MS + SLACK_MS)) === REFUSED, 5000, 'Connection refused for the dead backend')

  const started = Date.now()
  conn.write(keys.map((k) => `get ${k}\r\n`).join(''))
  const replies = await conn.read(keys.length, TIMEOUT_MS + SLACK_MS)
  t.ok(Date.now() - started < TIMEOUT_MS + SLACK_MS, 'answered without waiting for a timeout')
  t.same(keys.filter((_, i) => owners[i] === victim && replies[i]!.head !== REFUSED), [], `the dead backend's ${mine.length} keys: ${REFUSED}`)
  t.same(keys.filter((k, i) => owners[i] !== victim && valueOf(replies[i]) !== `v-${k}`), [], `the other ${others.length} keys read back`)

  const multiReply = await conn.call(`get ${others[0]} ${mine[0]} ${others[1]}\r\n`)
  t.same(multiReply.raw.toString('latin1'), `${REFUSED}\r\n`, 'a multi-get touching the dead backend is that error, once')
  conn.write(`${storage('set', mine[0]!, 'x', { noreply: true }).toString('latin1')}mg ${mine[0]} v q\r\nmg ${others[0]} v q\r\nmn\r\n`)
  const quiet = await conn.readThroughMn()
  t.same(quiet.map((r) => r.head), [REFUSED, `VA ${`v-${others[0]}`.length}`, 'MN'], 'noreply stays silent, quiet mode still reports the error, in step')

  const restarted = await startMemcached(t, { port: victimPort })
  t.equal(restarted.port, victimPort)
  await waitFor(async () => (await conn.head(`get ${mine[0]}\r\n`, TIMEOUT_MS + SLACK_MS)) === 'END', 5000, 'the restarted backend to be used again')
  conn.write(Buffer.concat(mine.map((k) => storage('set', k, `w-${k}`))))
  t.same((await conn.read(mine.length)).map((r) => r.head), mine.map(() => 'STORED'), 'writes to the restarted backend')
  conn.write(keys.map((k) => `get ${k}\r\n`).join(''))
  const after = await conn.read(keys.length)
  t.same(after.map(valueOf), keys.map((k, i) => (owners[i] === victim ? `w-${k}` : `v-${k}`)), 'every key reads back its own value')
  t.same((await mcOwnersOf(cluster.backends.map((b, i) => (i === victim ? restarted : b)), mine)).filter((o) => o !== victim), [], 'new values landed on the restarted backend')
})

t.test('backend stopped (SIGSTOP): Connection timed out after the timeout; others unaffected; SIGCONT: recovers', async (t) => {
  const { cluster, keys, owners } = await seeded(t, 'stop')
  const victim = owners[0]!
  const mine = keys.filter((_, i) => owners[i] === victim)
  const others = keys.filter((_, i) => owners[i] !== victim)
  const slow = await McConnection.connect(cluster.port, { t })
  const fast = await McConnection.connect(cluster.port, { t })
  const backend = cluster.backends[victim]!
  backend.kill('SIGSTOP')
  t.teardown(() => backend.kill('SIGCONT'))

  const started = Date.now()
  const timedOut = slow.call(`get ${mine[0]}\r\n`, TIMEOUT_MS + SLACK_MS)
  // While that request waits, keys of the other backends are served at once on another connection.
  fast.write(others.map((k) => `get ${k}\r\n`).join(''))
  const meanwhile = await fast.read(others.length, TIMEOUT_MS)
  t.same(meanwhile.map(valueOf), others.map((k) => `v-${k}`), 'other backends served while one is stopped')
  const reply = await timedOut
  const waited = Date.now() - started
  t.equal(reply.head, TIMED_OUT)
  t.ok(waited >= TIMEOUT_MS * 0.9 && waited < TIMEOUT_MS + SLACK_MS, `timed out after ${waited} ms (timeout ${TIMEOUT_MS})`)

  const multi = await slow.call(`get ${others[0]} ${mine[1]}\r\nmn\r\n`, TIMEOUT_MS + SLACK_MS)
  t.match(multi.raw.toString('latin1'), /^SERVER_ERROR Storage: Connection (timed out|refused)\r\n$/, 'a multi-get touching it is one error line')
  t.equal((await slow.read(1))[0]!.head, 'MN', 'and the stream is in step')

  backend.kill('SIGCONT')
  await waitFor(async () => valueOf(await slow.call(`get ${mine[0]}\r\n`, TIMEOUT_MS + SLACK_MS)) === `v-${mine[0]}`, 5000, 'the resumed backend to answer')
  slow.write(keys.map((k) => `get ${k}\r\n`).join(''))
  const after = await slow.read(keys.length, TIMEOUT_MS + SLACK_MS)
  t.same(after.map(valueOf), keys.map((k) => `v-${k}`), 'every key reads back its own value: no late reply taken for another')
})
