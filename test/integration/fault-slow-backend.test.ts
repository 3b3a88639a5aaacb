// Fault: a slow backend (DEBUG SLEEP sent to redis-server directly, or SIGSTOP/SIGCONT) -> proxied requests time out, then recover.
// It must never accept a late or misattributed reply: after recovery every key must read back its own value.

import t from 'tap'
import type { Test } from 'tap'
import { ownersOf } from '../helpers/backend-probe.ts'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { unreadBytesOnPort } from '../helpers/tcp-queue.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TIMEOUT_MS = 1000
const SLACK_MS = 1500

const cluster = await startProxiedRedis(t, { backends: 2, pool: { timeout: TIMEOUT_MS, auto_eject_hosts: false } })
const keys = Array.from({ length: 40 }, (_, i) => `slow:${i}`)
{
  const conn = await RespConnection.connect(cluster.port)
  await conn.pipeline(keys.map((k) => ['SET', k, `v-${k}`]))
  conn.destroy()
}
const owners = await ownersOf(cluster.backends, keys)
const keyOn = (b: number): string[] => keys.filter((_, i) => owners[i] === b)
if (keyOn(0).length === 0 || keyOn(1).length === 0) throw new Error('keys did not spread over both backends')

async function allKeysReadBack(): Promise<boolean> {
  const conn = await RespConnection.connect(cluster.port)
  try {
    const replies = await conn.pipeline(keys.map((k) => ['GET', k]), TIMEOUT_MS + SLACK_MS)
    return replies.every((r, i) => plain(r) === `v-${keys[i]!}`)
  } finally {
    conn.destroy()
  }
}

/**
 * Sends GET via the proxy and asserts a timeout error arrives within timeout + slack.
 * `firstFailure`: nothing has failed yet, so the error cannot come before the timeout. Later requests may be failed
 * at once while the proxy backs off from the server.
 */
async function expectTimeoutError(t: Test, key: string, label: string, firstFailure: boolean): Promise<void> {
  const conn = await RespConnection.connect(cluster.port, { t })
  const started = Date.now()
  const reply = await conn.call(['GET', key], TIMEOUT_MS + SLACK_MS)
  const elapsed = Date.now() - started
  t.equal(reply.kind, 'error', `${label}: error reply`, { got: plain(reply) })
  if (reply.kind === 'error') t.match(reply.value, /time[d ]*out/i, `${label}: says it timed out`)
  if (firstFailure) t.ok(elapsed >= TIMEOUT_MS * 0.8, `${label}: not before the timeout (${elapsed} ms)`)
  t.ok(elapsed <= TIMEOUT_MS + SLACK_MS, `${label}: within timeout + slack (${elapsed} ms)`)
  t.ok(conn.isOpen, `${label}: client connection stays open`)
}

t.test('DEBUG SLEEP on a backend: its keys time out, the other backend keeps serving, then all recover', async (t) => {
  const sleepy = cluster.backends[0]!
  const direct = await RespConnection.connect(sleepy.port, { t })
  direct.send(['DEBUG', 'SLEEP', '3'])
  // A direct PING left unread in the server's socket shows the server is inside the sleep.
  const probe = await RespConnection.connect(sleepy.port, { t })
  probe.send(['PING'])
  await waitFor(() => unreadBytesOnPort(sleepy.port) > 0 && probe.reader.pending === 0, 2000, 'the backend to be asleep', 5)
  const fast = RespConnection.connect(cluster.port, { t }).then(async (conn) => {
    const started = Date.now()
    const reply = await conn.call(['GET', keyOn(1)[0]!], TIMEOUT_MS)
    return { reply, elapsed: Date.now() - started }
  })
  await expectTimeoutError(t, keyOn(0)[0]!, 'DEBUG SLEEP', true)
  const other = await fast
  t.same(plain(other.reply), `v-${keyOn(1)[0]!}`, 'the awake backend answers')
  t.ok(other.elapsed < TIMEOUT_MS, `the awake backend answers promptly (${other.elapsed} ms)`)
  t.same(plain((await direct.read(1, 5000))[0]!), { ok: 'OK' }, 'DEBUG SLEEP finished')
  t.same(plain((await probe.read(1, 5000))[0]!), { ok: 'PONG' }, 'the probe was answered only after the sleep')
  await waitFor(allKeysReadBack, 10_000, 'every key to read back its own value', 100)
  t.pass('recovered: every key reads back its own value')
})

t.test('SIGSTOP a backend: repeated timeouts, pipelined ones too; SIGCONT -> recovery', async (t) => {
  const stopped = cluster.backends[1]!
  stopped.kill('SIGSTOP')
  t.teardown(() => stopped.kill('SIGCONT'))
  await expectTimeoutError(t, keyOn(1)[0]!, 'SIGSTOP #1', true)
  await expectTimeoutError(t, keyOn(1)[1] ?? keyOn(1)[0]!, 'SIGSTOP #2', false)

  const conn = await RespConnection.connect(cluster.port, { t })
  const started = Date.now()
  const mixed = await conn.pipeline(keys.map((k) => ['GET', k]), TIMEOUT_MS + SLACK_MS)
  t.ok(Date.now() - started <= TIMEOUT_MS + SLACK_MS, 'a pipeline across both backends is answered within timeout + slack')
  const wrong = keys.filter((k, i) => (owners[i] === 1 ? mixed[i]!.kind !== 'error' : plain(mixed[i]!) !== `v-${k}`))
  t.same(wrong, [], 'errors exactly for the stopped backend\'s keys, in order')

  stopped.kill('SIGCONT')
  await waitFor(allKeysReadBack, 10_000, 'every key to read back its own value', 100)
  t.pass('recovered: every key reads back its own value, no late reply misattributed')
  t.same(plain(await conn.call(['GET', keyOn(1)[0]!])), `v-${keyOn(1)[0]!}`, 'the same client connection works again')
})
