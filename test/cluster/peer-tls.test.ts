// Peer mutual TLS (secure_server_option): a 2-node rack whose peer links are TLS both ways, verified with tls_ca; a peer-port
// connection in plain text or with a certificate of another CA is refused and counted. Every process is stopped in teardown.

import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import type { ClusterNode } from '../helpers/cluster.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { makeTestCerts } from '../helpers/tls-certs.ts'
import { peerFrame, resp, DMSG_REQ } from '../helpers/raw-peer.ts'
import { waitFor } from '../helpers/wait-for.ts'

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.statsPort}/metrics`)).text()
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

/**
 * What a peer-port connection gets before it is closed (a dnode request is sent once connected). A served connection stays open:
 * it is closed here once the PONG came (what every caller looks for), else after 15 s of silence.
 */
function attempt(open: () => net.Socket, connectEvent: string): Promise<{ got: string; error: string }> {
  return new Promise((resolve) => {
    let got = ''
    let error = ''
    const s = open()
    s.on(connectEvent, () => s.write(peerFrame(1, DMSG_REQ, resp('PING'))))
    s.setTimeout(15_000, () => s.destroy())
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      if (/PONG/.test(got)) s.destroy()
    })
    s.on('error', (e) => (error = e.message))
    s.on('close', () => resolve({ got, error }))
  })
}

const certs = makeTestCerts(t)
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  pool: { secure_server_option: 'all', tls_cert: certs.server.cert, tls_key: certs.server.key, tls_ca: certs.ca, client_tls: false },
})
const a = cluster.node('dc1', 'rack1', 0)
const b = cluster.node('dc1', 'rack1', 1)

t.test('a SET through node A is readable through node B, both ways over TLS', async (t) => {
  const ca = await a.connect()
  const cb = await b.connect()
  t.teardown(() => {
    ca.destroy()
    cb.destroy()
  })
  for (const [via, owner, other] of [[a, b, cb], [b, a, ca]] as const) {
    const key = cluster.keysOwnedBy(owner, `ptls-${via.index}`)[0]!
    const client = via === a ? ca : cb
    t.same(plain(await client.call(['SET', key, `from-${via.index}`])), { ok: 'OK' }, 'the SET crosses the peer link')
    t.same(plain(await owner.redis.call('GET', key)), `from-${via.index}`, "the owner's datastore holds it")
    t.same(plain(await other.call(['GET', key])), `from-${via.index}`, 'readable through the owner')
    t.same(plain(await client.call(['GET', key])), `from-${via.index}`, 'and back through the peer link')
  }
})

t.test('the peer port refuses plain text and certificates of another CA', async (t) => {
  const before = await metric(b, 'peer_tls_refused_total')
  const clear = await attempt(() => net.connect(b.peerPort, '127.0.0.1'), 'connect')
  t.notMatch(clear.got, /PONG/, 'plain text: no answer')
  const stranger = await attempt(
    () => tls.connect({ port: b.peerPort, host: '127.0.0.1', ca: readFileSync(certs.ca), cert: readFileSync(certs.stranger.cert), key: readFileSync(certs.stranger.key), checkServerIdentity: () => undefined }),
    'secureConnect',
  )
  t.notMatch(stranger.got, /PONG/, "another CA's certificate: no answer")
  const none = await attempt(() => tls.connect({ port: b.peerPort, host: '127.0.0.1', ca: readFileSync(certs.ca), checkServerIdentity: () => undefined }), 'secureConnect')
  t.notMatch(none.got, /PONG/, 'no certificate: no answer')
  const good = await attempt(
    () => tls.connect({ port: b.peerPort, host: '127.0.0.1', ca: readFileSync(certs.ca), cert: readFileSync(certs.client.cert), key: readFileSync(certs.client.key), checkServerIdentity: () => undefined }),
    'secureConnect',
  )
  t.match(good.got, /PONG/, 'a certificate of tls_ca is served (the control)')
  t.ok((await metric(b, 'peer_tls_refused_total')) >= before + 3, 'each refusal counted')
})

t.test('SIGHUP: the peer port serves the new certificate to new peer connections; the cluster goes on', async (t) => {
  const cn = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tls.connect(
        { port: b.peerPort, host: '127.0.0.1', ca: readFileSync(certs.ca), cert: readFileSync(certs.client.cert), key: readFileSync(certs.client.key), checkServerIdentity: () => undefined },
        () => {
          const name = s.getPeerCertificate().subject.CN
          s.destroy()
          resolve(Array.isArray(name) ? name.join(',') : (name ?? ''))
        },
      )
      s.on('error', reject)
    })
  t.equal(await cn(), 'dynoproxy-one')
  const proxy = b.proxy!
  const yaml = readFileSync(proxy.configPath, 'utf8')
  t.ok(yaml.includes(certs.server.cert), 'the node config names the first certificate')
  writeFileSync(proxy.configPath, yaml.replaceAll(certs.server.cert, certs.server2.cert).replaceAll(certs.server.key, certs.server2.key))
  proxy.kill('SIGHUP')
  await waitFor(async () => (await cn()) === 'dynoproxy-two', 10_000, 'the new peer certificate', 50)
  t.pass('new peer connections get the new certificate')
  const c = await a.connect()
  t.teardown(() => c.destroy())
  const key = cluster.keysOwnedBy(b, 'after-reload')[0]!
  t.same(plain(await c.call(['SET', key, 'still'])), { ok: 'OK' }, 'a write through A to B after the reload')
  t.same(plain(await b.redis.call('GET', key)), 'still')
})
