// TLS on the client port (RESP and memcached pools): real clients (redis-cli --tls, ioredis, redis-py, pymemcache, openssl s_client),
// client certificates (tls_client_auth), TLS 1.2 minimum, plain text refused, certificate reload on SIGHUP, config errors for bad files.
// It must never leave a proxy, redis-server or memcached running: every process is stopped in teardown.

import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import https from 'node:https'
import t from 'tap'
import { Redis } from 'ioredis'
import { stringify } from 'yaml'
import { CLI_PATH, NODE_BIN, REPO_ROOT, defaultPool, startDynoproxy } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { defaultMemcachedPool, startMemcached } from '../helpers/memcached.ts'
import { freePort } from '../helpers/free-port.ts'
import { makeTestCerts, type CertPair } from '../helpers/tls-certs.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

/** The system python, which has python3-redis and python3-pymemcache (a pyenv shim earlier on PATH may not). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1
      resolve({ code, out: `${stdout}${stderr}` })
    })
    child.stdin?.end(input)
  })
}

/** The certificate the port serves (its CN), over a fresh TLS connection trusting `ca`. */
function servedCn(port: number, ca: string, client?: CertPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(ca), servername: 'localhost', ...(client === undefined ? {} : { cert: readFileSync(client.cert), key: readFileSync(client.key) }) }, () => {
      const cn = s.getPeerCertificate().subject.CN
      s.end()
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''))
    })
    s.on('error', reject)
  })
}

/** A PING over TLS with `client`'s certificate (or none): '+PONG', or how the connection ended. */
function tlsPing(port: number, ca: string, client: CertPair | null): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(ca), servername: 'localhost', ...(client === null ? {} : { cert: readFileSync(client.cert), key: readFileSync(client.key) }) }, () => s.write('PING\r\n'))
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')))
    s.on('data', (d: Buffer) => {
      got += d.toString()
      if (got.includes('\r\n')) {
        s.end()
        resolve(got.trim())
      }
    })
    s.on('error', (e) => resolve(`error: ${e.message}`))
    s.on('close', () => resolve(got === '' ? 'closed' : got.trim()))
  })
}

/** GET over HTTPS trusting `ca`: status, body and the certificate's CN. */
function httpsGet(port: number, p: string, ca: string): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: p, ca: readFileSync(ca), servername: 'localhost', agent: false }, (res) => {
      let body = ''
      const cn = (res.socket as tls.TLSSocket).getPeerCertificate().subject.CN
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn: Array.isArray(cn) ? cn.join(',') : (cn ?? '') }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
  })
}

t.test('RESP and memcached pools over TLS, client certificates, reload on SIGHUP', async (t) => {
  const certs = makeTestCerts(t)
  const redis = await startRedis(t)
  const mc = await startMemcached(t)
  const [plainPort, mtlsPort, mcPort, statsPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const tlsKeys = { tls_cert: certs.server.cert, tls_key: certs.server.key }
  const config = {
    tlsredis: { ...defaultPool(plainPort, [redis], statsPort), ...tlsKeys, admin_tls: true },
    mtls: { ...defaultPool(mtlsPort, [redis]), ...tlsKeys, tls_ca: certs.ca, tls_client_auth: true },
    tlsmc: { ...defaultMemcachedPool(mcPort, [mc]), ...tlsKeys },
  }
  const proxy = await startDynoproxy(t, { config, port: [plainPort, mtlsPort, mcPort], workers: 2 })

  await t.test('redis-cli --tls', async (t) => {
    const set = await run('redis-cli', ['--tls', '--cacert', certs.ca, '-h', '127.0.0.1', '-p', String(plainPort), 'SET', 'cli', 'one'])
    t.equal(set.out.trim(), 'OK', set.out)
    const get = await run('redis-cli', ['--tls', '--cacert', certs.ca, '-h', '127.0.0.1', '-p', String(plainPort), 'GET', 'cli'])
    t.equal(get.out.trim(), 'one')
    t.same(plain(await redis.call('GET', 'cli')), 'one', 'the datastore holds it')
  })

  await t.test('ioredis tls:', async (t) => {
    const c = new Redis({ port: plainPort, host: '127.0.0.1', tls: { ca: readFileSync(certs.ca), servername: 'localhost' }, maxRetriesPerRequest: 1, lazyConnect: true })
    t.teardown(() => c.disconnect())
    await c.connect()
    t.equal(await c.set('io', 'two'), 'OK')
    t.equal(await c.get('io'), 'two')
    const values = await c.pipeline(Array.from({ length: 200 }, (_, i) => ['set', `p${i}`, 'x'.repeat(i * 97)])).exec()
    t.equal(values?.length, 200)
    t.equal(await c.strlen('p199'), 199 * 97, 'a pipeline of growing values arrives whole')
    const big = Buffer.alloc(3 * 1024 * 1024 + 7)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    t.equal(await c.set('big', big), 'OK')
    const [back, again] = await Promise.all([c.getBuffer('big'), c.getBuffer('big')])
    t.ok(big.equals(back!) && big.equals(again!), 'a 3 MiB value comes back byte for byte, twice in flight')
    const many = await c.pipeline(Array.from({ length: 500 }, (_, i) => ['get', `p${i % 200}`])).exec()
    t.ok(many?.every(([err, v], i) => err === null && v === 'x'.repeat((i % 200) * 97)), '500 pipelined replies in order')
  })

  await t.test('redis-py ssl=True', async (t) => {
    const script = `import redis,sys\nr=redis.Redis(host='127.0.0.1',port=${plainPort},ssl=True,ssl_ca_certs=sys.argv[1])\nr.set('py','three')\nprint(r.get('py').decode())`
    const r = await run(PYTHON, ['-c', script, certs.ca])
    t.equal(r.out.trim(), 'three', r.out)
  })

  await t.test('pymemcache tls_context on the memcached pool', async (t) => {
    const script = [
      'import ssl,sys',
      'from pymemcache.client.base import Client',
      'ctx=ssl.create_default_context(cafile=sys.argv[1])',
      'ctx.check_hostname=False',
      `c=Client(('127.0.0.1',${mcPort}),tls_context=ctx)`,
      "c.set('pm','four')",
      "print(c.get('pm').decode())",
    ].join('\n')
    const r = await run(PYTHON, ['-c', script, certs.ca])
    t.equal(r.out.trim(), 'four', r.out)
  })

  await t.test('openssl s_client: TLS 1.3 by default, 1.2 accepted, 1.1 refused', async (t) => {
    const base = ['s_client', '-connect', `127.0.0.1:${plainPort}`, '-CAfile', certs.ca, '-ign_eof']
    const v13 = await run('openssl', base, 'PING\r\nQUIT\r\n')
    t.match(v13.out, /TLSv1\.3/, 'TLS 1.3 negotiated')
    t.match(v13.out, /\+PONG/)
    t.match(v13.out, /Verify return code: 0 \(ok\)/)
    const v12 = await run('openssl', [...base, '-tls1_2'], 'PING\r\nQUIT\r\n')
    t.match(v12.out, /\+PONG/, 'TLS 1.2 served')
    const v11 = await run('openssl', [...base, '-tls1_1'], 'PING\r\nQUIT\r\n')
    t.notMatch(v11.out, /\+PONG/, 'TLS 1.1 refused')
  })

  await t.test('admin_tls: the admin API over HTTPS only', async (t) => {
    const info = await httpsGet(statsPort, '/info', certs.ca)
    t.equal(info.status, 200)
    t.match(info.body, /"uptime"/, 'the info body')
    t.equal(info.cn, 'dynoproxy-one')
    const clear = await fetch(`http://127.0.0.1:${statsPort}/info`).then((r) => r.status, (e: Error) => e.message)
    t.not(clear, 200, `plain HTTP is not served (${clear})`)
  })

  await t.test('plain text on a TLS port is closed without an answer', async (t) => {
    const answer = await new Promise<string>((resolve) => {
      let got = ''
      const s = net.connect(plainPort, '127.0.0.1', () => s.write('*1\r\n$4\r\nPING\r\n'))
      s.setTimeout(15_000, () => s.destroy())
      s.on('data', (d: Buffer) => (got += d.toString('latin1')))
      s.on('error', () => {})
      s.on('close', () => resolve(got))
    })
    t.notMatch(answer, /PONG/, 'nothing served in clear')
  })

  await t.test('tls_client_auth: only a certificate of tls_ca is served', async (t) => {
    t.equal(await tlsPing(mtlsPort, certs.ca, certs.client), '+PONG', "the CA's client certificate")
    t.notMatch(await tlsPing(mtlsPort, certs.ca, null), /PONG/, 'no certificate: refused')
    t.notMatch(await tlsPing(mtlsPort, certs.ca, certs.stranger), /PONG/, "another CA's certificate: refused")
    const base = ['s_client', '-connect', `127.0.0.1:${mtlsPort}`, '-CAfile', certs.ca, '-ign_eof']
    const good = await run('openssl', [...base, '-cert', certs.client.cert, '-key', certs.client.key], 'PING\r\nQUIT\r\n')
    t.match(good.out, /\+PONG/, 's_client with the client certificate')
    const bad = await run('openssl', [...base, '-cert', certs.stranger.cert, '-key', certs.stranger.key], 'PING\r\nQUIT\r\n')
    t.notMatch(bad.out, /\+PONG/, 's_client with an unknown certificate is refused')
    const stats = (await httpsGet(statsPort, '/metrics', certs.ca)).body
    const refused = /dynoproxy_tls_handshake_failures_total\{pool="mtls"\} (\d+)/.exec(stats)
    t.ok(refused !== null && Number(refused[1]) >= 3, `refusals counted: ${refused?.[0]}`)
    const cli = await run('redis-cli', ['--tls', '--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key, '-h', '127.0.0.1', '-p', String(mtlsPort), 'GET', 'cli'])
    t.equal(cli.out.trim(), 'one', 'redis-cli --cert')
  })

  await t.test('SIGHUP: new connections get the new certificate, open ones go on', async (t) => {
    const open = new Redis({ port: plainPort, host: '127.0.0.1', tls: { ca: readFileSync(certs.ca), servername: 'localhost' }, lazyConnect: true })
    t.teardown(() => open.disconnect())
    await open.connect()
    t.equal(await servedCn(plainPort, certs.ca), 'dynoproxy-one')
    const next = { ...config, tlsredis: { ...config.tlsredis, tls_cert: certs.server2.cert, tls_key: certs.server2.key } }
    writeFileSync(proxy.configPath, stringify(next))
    proxy.kill('SIGHUP')
    // Both workers take it: several fresh connections in a row all see the new certificate.
    await waitFor(async () => {
      for (let i = 0; i < 6; i++) if ((await servedCn(plainPort, certs.ca)) !== 'dynoproxy-two') return false
      return true
    }, 10_000, 'the new certificate on new connections', 50)
    t.pass('the new certificate is served')
    t.equal(await open.get('cli'), 'one', 'a connection opened before the reload is still served')
    t.equal(await servedCn(mtlsPort, certs.ca, certs.client), 'dynoproxy-one', 'the other pool keeps its own')
    t.equal((await httpsGet(statsPort, '/info', certs.ca)).cn, 'dynoproxy-two', 'the admin port serves the new certificate too')

    // A reload whose key does not match its certificate is refused whole: the running certificate stays.
    writeFileSync(proxy.configPath, stringify({ ...next, tlsredis: { ...next.tlsredis, tls_key: certs.server.key } }))
    proxy.kill('SIGHUP')
    await waitFor(() => /reload failed.*tls_key/.test(proxy.output()), 10_000, 'the reload failure to be logged', 50)
    t.equal(await servedCn(plainPort, certs.ca), 'dynoproxy-two', 'still the certificate loaded last')
  })
})

t.test('config errors name the key and the file', async (t) => {
  const certs = makeTestCerts(t)
  const check = (pool: Record<string, unknown>): { code: number | null; out: string } => {
    const file = path.join(certs.dir, `check-${Math.random().toString(36).slice(2)}.yml`)
    writeFileSync(file, stringify({ p: { listen: '127.0.0.1:1', servers: ['127.0.0.1:2:1'], ...pool } }))
    const r = spawnSync(NODE_BIN, [CLI_PATH, '-c', file, '-t'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 })
    return { code: r.status, out: `${r.stdout}${r.stderr}` }
  }
  const ok = check({ tls_cert: certs.server.cert, tls_key: certs.server.key, tls_ca: certs.ca, tls_client_auth: true })
  t.equal(ok.code, 0, ok.out)
  const missing = check({ tls_cert: path.join(certs.dir, 'nope.crt'), tls_key: certs.server.key })
  t.equal(missing.code, 1)
  t.match(missing.out, /p\.tls_cert: cannot read .*nope\.crt \(no such file\)/)
  const mismatch = check({ tls_cert: certs.server.cert, tls_key: certs.client.key })
  t.match(mismatch.out, /p\.tls_key: .*client\.key is not the private key of the certificate in .*server\.crt/)
  const notPem = check({ tls_cert: certs.server.key, tls_key: certs.server.key })
  t.match(notPem.out, /p\.tls_cert: .* holds no PEM certificate/)
  const alone = check({ tls_cert: certs.server.cert })
  t.match(alone.out, /tls_cert and tls_key go together/)
  const noCa = check({ tls_cert: certs.server.cert, tls_key: certs.server.key, tls_client_auth: true })
  t.match(noCa.out, /p\.tls_client_auth: needs tls_ca/)
  const relative = check({ tls_cert: 'server.crt', tls_key: 'server.key' })
  t.equal(relative.code, 0, `paths are relative to the config file: ${relative.out}`)
  const backendNoTls = check({ backend_tls_ca: certs.ca })
  t.match(backendNoTls.out, /p\.backend_tls_ca: has no effect without backend_tls: true/)
  const admin = check({ admin_tls: true })
  t.match(admin.out, /p\.admin_tls: serves HTTPS with tls_cert and tls_key/)
})
