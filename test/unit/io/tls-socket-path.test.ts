// TLS sockets on the request path's I/O: an accepted TLS socket reads through the static read buffer (no copy beyond OpenSSL's
// decryption), and an OutBuffer that recycles its chunks from TLS write callbacks sends every byte in order.
// Loopback only; every socket and server is closed in teardown.

import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import t from 'tap'
import { OutBuffer, useStaticReadBuffer } from '../../../src/io/index.ts'
import { makeTestCerts } from '../../helpers/tls-certs.ts'

const certs = makeTestCerts(t)
const pattern = (n: number): Buffer => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff
  return b
}

t.test('an accepted TLS socket takes the static read buffer; an OutBuffer recycling TLS writes keeps every byte', async (t) => {
  const readBuf = Buffer.allocUnsafeSlow(64 * 1024)
  const received: Buffer[] = []
  let applied: boolean | null = null
  let dataEvents = 0
  let serverSide: tls.TLSSocket | null = null
  const server = tls.createServer({ cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key), pauseOnConnect: true }, (s) => {
    serverSide = s
    applied = useStaticReadBuffer(s, readBuf, (n: number) => {
      received.push(Buffer.from(readBuf.subarray(0, n)))
      return true
    })
    s.on('data', () => dataEvents++)
    s.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const client = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(certs.ca), servername: 'localhost' })
  t.teardown(() => client.destroy())
  await new Promise<void>((resolve, reject) => {
    client.once('secureConnect', resolve)
    client.once('error', reject)
  })
  const out = new OutBuffer()
  out.recycleWrites()
  const sent = pattern(1_500_000)
  // Many flushes of odd sizes while earlier writes are still pending: a chunk may be reused only after its write completed.
  for (let off = 0; off < sent.length; ) {
    const n = Math.min(sent.length - off, 1 + ((off * 13) % 40_000))
    out.append(sent, off, off + n)
    out.flush(client, false)
    off += n
  }
  const deadline = Date.now() + 20_000
  while (received.reduce((a, b) => a + b.length, 0) < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.equal(applied, true, 'the static read buffer applies to a TLS server socket')
  t.equal(dataEvents, 0, "no 'data' events: every read came through the static buffer")
  t.ok(Buffer.concat(received).equals(sent), 'every byte, in order')
  ;(serverSide as tls.TLSSocket | null)?.destroy()
})
