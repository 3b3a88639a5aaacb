// CLIENT TRACKING (client-side caching) through a single-node pool of two redis-servers, RESP3 raw connections: a key the client read
// is invalidated by a write from any client on any backend (a push after the read's reply), BCAST with prefixes, OFF, and the refusals.

import t from 'tap'
import type { Test } from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const node = await startProxiedRedis(t, { backends: 2, workers: 1 })

async function tracker(t: Test, ...opts: string[]): Promise<RespConnection> {
  const c = await RespConnection.connect(node.port, { t })
  await c.call(['HELLO', '3'])
  t.same(plain(await c.call(['CLIENT', 'TRACKING', 'ON', ...opts])), { ok: 'OK' })
  return c
}

t.test('default mode: reads are tracked on every backend; a write by another client invalidates exactly those keys', async (t) => {
  const c = await tracker(t)
  const writer = await RespConnection.connect(node.port, { t })
  const keys = Array.from({ length: 10 }, (_v, i) => `tk:${i}`)
  for (const k of keys) await writer.call(['SET', k, 'v1'])
  for (const k of keys) t.equal(plain(await c.call(['GET', k])), 'v1')
  for (const b of node.backends) t.ok((plain(await b.call('DBSIZE')) as number) > 0, 'keys on both backends')
  await writer.call(['SET', 'tk:3', 'v2'])
  await writer.call(['SET', 'tk:7', 'v2'])
  await writer.call(['SET', 'untracked', 'x'])
  const pushes = (await c.read(2, 5000)).map(plain)
  t.same(pushes, [{ push: ['invalidate', ['tk:3']] }, { push: ['invalidate', ['tk:7']] }], 'one push per written key that was read')
  await writer.call(['SET', 'tk:3', 'v3'])
  await new Promise((r) => setTimeout(r, 300))
  t.same(plain(await c.call(['PING'])), { ok: 'PONG' }, 'no second invalidation until the key is read again')
  t.equal(plain(await c.call(['GET', 'tk:3'])), 'v3')
  await writer.call(['DEL', 'tk:3'])
  t.same(plain((await c.read(1, 5000))[0]!), { push: ['invalidate', ['tk:3']] }, 'tracked again after the read')
  t.same(plain(await c.call(['CLIENT', 'TRACKINGINFO'])), { map: ['flags', ['on'], 'redirect', 0, 'prefixes', []] })
  t.same(plain(await c.call(['CLIENT', 'TRACKING', 'OFF'])), { ok: 'OK' })
  await c.call(['GET', 'tk:5'])
  await writer.call(['SET', 'tk:5', 'v9'])
  await new Promise((r) => setTimeout(r, 300))
  t.same(plain(await c.call(['PING'])), { ok: 'PONG' }, 'OFF: no more invalidations')
})

t.test('BCAST with a prefix: every write under the prefix, read or not', async (t) => {
  const c = await tracker(t, 'BCAST', 'PREFIX', 'bc:')
  const writer = await RespConnection.connect(node.port, { t })
  await writer.call(['SET', 'bc:a', '1'])
  await writer.call(['SET', 'other:a', '1'])
  await writer.call(['SET', 'bc:b', '1'])
  const pushes = (await c.read(2, 5000)).map(plain)
  t.same(pushes, [{ push: ['invalidate', ['bc:a']] }, { push: ['invalidate', ['bc:b']] }])
})

t.test('OPTIN: only reads right after CLIENT CACHING yes are tracked; OPTOUT: all but those after CLIENT CACHING no', async (t) => {
  const writer = await RespConnection.connect(node.port, { t })
  for (const k of ['oi:a', 'oi:b', 'oo:a', 'oo:b']) await writer.call(['SET', k, '1'])
  const optin = await tracker(t, 'OPTIN')
  t.equal(plain(await optin.call(['GET', 'oi:a'])), '1', 'not tracked')
  t.same(plain(await optin.call(['CLIENT', 'CACHING', 'yes'])), { ok: 'OK' })
  t.equal(plain(await optin.call(['GET', 'oi:b'])), '1', 'tracked')
  t.same(plain(await optin.call(['CLIENT', 'CACHING', 'yes'])), { ok: 'OK' })
  t.same(plain(await optin.call(['PING'])), { ok: 'PONG' }, 'the flag is for the very next command only')
  t.equal(plain(await optin.call(['GET', 'oi:a'])), '1', 'so this read is not tracked')
  t.match(plain(await optin.call(['CLIENT', 'CACHING', 'no'])), { err: /^ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode\.$/ })
  const optout = await tracker(t, 'OPTOUT')
  t.same(plain(await optout.call(['CLIENT', 'CACHING', 'no'])), { ok: 'OK' })
  t.equal(plain(await optout.call(['GET', 'oo:a'])), '1', 'not tracked')
  t.equal(plain(await optout.call(['GET', 'oo:b'])), '1', 'tracked')
  for (const k of ['oi:a', 'oi:b', 'oo:a', 'oo:b']) await writer.call(['SET', k, '2'])
  t.same(plain((await optin.read(1, 5000))[0]!), { push: ['invalidate', ['oi:b']] })
  t.same(plain((await optout.read(1, 5000))[0]!), { push: ['invalidate', ['oo:b']] })
  await new Promise((r) => setTimeout(r, 300))
  t.same(plain(await optin.call(['PING'])), { ok: 'PONG' }, 'nothing for the untracked keys')
  t.same(plain(await optout.call(['PING'])), { ok: 'PONG' })
  t.same(plain(await optin.call(['CLIENT', 'TRACKINGINFO'])), { map: ['flags', ['on', 'optin'], 'redirect', 0, 'prefixes', []] })
})

t.test('NOLOOP: no invalidation for the client\'s own writes; others\' writes still reach it', async (t) => {
  const c = await tracker(t, 'NOLOOP')
  const writer = await RespConnection.connect(node.port, { t })
  await writer.call(['SET', 'nl:a', '1'])
  t.equal(plain(await c.call(['GET', 'nl:a'])), '1')
  t.same(plain(await c.call(['SET', 'nl:a', 'mine'])), { ok: 'OK' })
  await new Promise((r) => setTimeout(r, 300))
  t.same(plain(await c.call(['PING'])), { ok: 'PONG' }, 'its own write: no push')
  t.equal(plain(await c.call(['GET', 'nl:a'])), 'mine')
  await writer.call(['SET', 'nl:a', 'theirs'])
  t.same(plain((await c.read(1, 5000))[0]!), { push: ['invalidate', ['nl:a']] }, 'another client\'s write: the push')
})

t.test('refusals: RESP2, REDIRECT, PREFIX without BCAST, OPTIN with BCAST; CLIENT CACHING, GETREDIR', async (t) => {
  const c2 = await RespConnection.connect(node.port, { t })
  t.match(plain(await c2.call(['CLIENT', 'TRACKING', 'ON'])), { err: /needs RESP3/ })
  t.equal(plain(await c2.call(['CLIENT', 'GETREDIR'])), -1)
  const c3 = await RespConnection.connect(node.port, { t })
  await c3.call(['HELLO', '3'])
  t.match(plain(await c3.call(['CLIENT', 'TRACKING', 'ON', 'BCAST', 'OPTIN'])), { err: /^ERR OPTIN and OPTOUT are not compatible with BCAST$/ })
  t.match(plain(await c3.call(['CLIENT', 'TRACKING', 'ON', 'OPTIN', 'OPTOUT'])), { err: /^ERR You can't use both OPTIN and OPTOUT$/ })
  t.match(plain(await c3.call(['CLIENT', 'TRACKING', 'ON', 'REDIRECT', '5'])), { err: /REDIRECT is not supported/ })
  t.match(plain(await c3.call(['CLIENT', 'TRACKING', 'ON', 'PREFIX', 'x'])), { err: /^ERR PREFIX option requires BCAST mode to be enabled$/ })
  t.match(plain(await c3.call(['CLIENT', 'CACHING', 'yes'])), { err: /OPTIN or OPTOUT/ })
})
