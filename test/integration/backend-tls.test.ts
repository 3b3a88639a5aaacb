// TLS to the datastores (backend_tls): a real redis-server with --tls-port (which requires client certificates), reached through the
// proxy by plain clients; requests, pub/sub side links, and a certificate that does not carry the expected name (refused, with OpenSSL's reason).
// It must never leave a proxy or redis-server running: every process is stopped in teardown.

import t from 'tap'
import { defaultPool, startDynoproxy } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { makeTestCerts } from '../helpers/tls-certs.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { waitFor } from '../helpers/wait-for.ts'

t.test('backend_tls: requests and pub/sub over TLS to redis --tls-port', async (t) => {
  const certs = makeTestCerts(t)
  const tlsPort = await freePort()
  // The plain port stays for the helper's own checks; the proxy is given only the TLS one.
  const redis = await startRedis(t, { args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.server.cert, '--tls-key-file', certs.server.key, '--tls-ca-cert-file', certs.ca] })
  const [good, wrongName] = [await freePort(), await freePort()]
  const backendTls = { backend_tls: true, backend_tls_ca: certs.ca, backend_tls_cert: certs.client.cert, backend_tls_key: certs.client.key }
  const config = {
    good: { ...defaultPool(good, [redis], await freePort()), servers: [`127.0.0.1:${tlsPort}:1`], ...backendTls },
    wrongname: { ...defaultPool(wrongName, [redis]), servers: [`127.0.0.1:${tlsPort}:1`], ...backendTls, backend_tls_servername: 'not-this.example', preconnect: false },
  }
  await startDynoproxy(t, { config, port: [good, wrongName], workers: 1 })

  const c = await RespConnection.connect(good, { t })
  t.same(plain(await c.call(['SET', 'bt', 'over-tls'])), { ok: 'OK' })
  t.same(plain(await c.call(['GET', 'bt'])), 'over-tls')
  t.same(plain(await redis.call('GET', 'bt')), 'over-tls', 'the datastore holds it')
  const big = 'v'.repeat(300_000)
  t.same(plain(await c.call(['SET', 'big', big])), { ok: 'OK' })
  t.equal(plain(await c.call(['GET', 'big'])), big, 'a value larger than a TLS record comes back whole')
  const clients = String(plain(await redis.call('CLIENT', 'LIST')))
  t.match(clients, new RegExp(`laddr=127\\.0\\.0\\.1:${tlsPort}`), 'the proxy is connected to the TLS port')

  // Pub/sub has links of its own to the datastore: TLS too.
  const sub = await RespConnection.connect(good, { t })
  t.same(plain(await sub.call(['SUBSCRIBE', 'news'])), ['subscribe', 'news', 1])
  await waitFor(async () => Number(plain(await c.call(['PUBLISH', 'news', 'hello']))) === 1, 10_000, 'the subscription on the datastore', 50)
  t.same(plain((await sub.read(1))[0]!), ['message', 'news', 'hello'])

  const w = await RespConnection.connect(wrongName, { t })
  const refused = plain(await w.call(['GET', 'bt']))
  t.match(refused, { err: /TLS: .*not-this\.example/ }, 'a certificate without the expected name is refused, with the reason')
})
