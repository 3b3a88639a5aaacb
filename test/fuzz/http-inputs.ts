// fast-check generators of HTTP requests for the admin port (stats_listen): bad methods, huge headers, bad paths and query
// strings, chunked and lying bodies. It must never carry the admin token: no generated request may change the node.

import fc from 'fast-check'
import type { AnswerCounter, FuzzInput } from './fuzz-kit.ts'
import { cutsArb, mutate, mutationArb, splitAt } from './fuzz-kit.ts'

const PATHS = [
  '/', '/info', '/help', '/ping', '/describe', '/cluster_describe', '/get_consistency', '/set_consistency/read/dc_quorum', '/get_timeout_factor',
  '/set_timeout_factor/11', '/state/get_state', '/state/standby', '/state/normal', '/state/warm_up', '/peer/down/all', '/loglevelup', '/setloglevel/99',
  '/historeset', '/metrics', '/dashboard', '/events', '/state/', '//', '/../../etc/passwd', '/%00', '/%ff%fe', '/info%2f..', '/peer/up/' + 'x'.repeat(300),
  '*', 'http://127.0.0.1/info', '/info?', '/metrics?name[]=x&&=', '/info?%zz', '/info#frag', '/\u00e9t\u00e9', '/' + 'a/'.repeat(2000),
]
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'PRI', 'get', 'G\u00c9T', 'X'.repeat(100), '']

const queryArb = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 5 }).map((kv) => '?' + kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  fc.constantFrom('?%', '?%%%', '?a=%G1', '?' + 'q'.repeat(5000), '?a=1&a=2&a[]=3', '?\u0000'),
)

const headerArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('User-Agent: fuzz', 'Accept: */*', 'Connection: keep-alive', 'Authorization: Bearer wrong', 'Origin: http://evil.example', 'Expect: 100-continue', 'Upgrade: websocket'),
  fc.integer({ min: 1, max: 80 }).map((k) => `X-Big: ${'b'.repeat(k * 1024)}`),
  fc.integer({ min: 1, max: 300 }).map((n) => Array.from({ length: n }, (_, i) => `X-Many-${i}: v`).join('\r\n')),
  fc.string({ maxLength: 20 }).map((s) => `X-Odd: ${s.replace(/[\r\n]/g, '')}`),
)

type Body = { headers: readonly string[]; body: string; whole: boolean }
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  fc.constant({ headers: [], body: '', whole: true }),
  fc.string({ maxLength: 64 }).map((s) => ({ headers: [`Content-Length: ${Buffer.byteLength(s)}`], body: s, whole: true })),
  fc.string({ maxLength: 64 }).map((s) => ({ headers: ['Transfer-Encoding: chunked'], body: `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n0\r\n\r\n`, whole: true })),
  fc.integer({ min: 1, max: 8 }).map((n) => ({ headers: ['Transfer-Encoding: chunked'], body: `${'400\r\n' + 'c'.repeat(1024) + '\r\n'}`.repeat(n) + '0\r\n\r\n', whole: true })),
  fc.constantFrom(
    { headers: ['Content-Length: -1'], body: 'x', whole: true },
    { headers: ['Content-Length: 99999999999'], body: 'x', whole: false },
    { headers: ['Content-Length: 5', 'Content-Length: 6'], body: 'xxxxx', whole: true },
    { headers: ['Transfer-Encoding: chunked', 'Content-Length: 3'], body: '3\r\nabc\r\n0\r\n\r\n', whole: true },
    { headers: ['Transfer-Encoding: chunked'], body: 'zz\r\nabc\r\n0\r\n\r\n', whole: true },
    { headers: ['Transfer-Encoding: chunked'], body: 'fffffffffffffffff\r\nabc', whole: true },
    { headers: ['Transfer-Encoding: gzip, chunked'], body: '0\r\n\r\n', whole: true },
    { headers: ['Content-Length: 2000000'], body: 'y'.repeat(4096), whole: false },
  ),
)

/** Host headers: the right one (loopback, with the port) mostly, else missing, foreign, or malformed. */
function hostArb(port: number): fc.Arbitrary<readonly string[]> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant([`Host: 127.0.0.1:${port}`]) },
    { weight: 1, arbitrary: fc.constantFrom([], ['Host: evil.example'], [`Host: localhost:${port}`, 'Host: evil.example'], ['Host: '], [`Host: [::1]:${port}`], ['Host: 127.0.0.1:99999']) },
  )
}

/**
 * A request ending in Connection: close: complete ones (every framing byte given) must get a status line or a close within the
 * hang bound; mutated ones may get nothing.
 */
export function httpInputArb(port: number): fc.Arbitrary<FuzzInput> {
  const request = fc.record({
    method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD') }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    path: fc.constantFrom(...PATHS),
    query: queryArb,
    version: fc.oneof({ weight: 6, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9', '') }),
    host: hostArb(port),
    headers: fc.array(headerArb, { maxLength: 3 }),
    body: bodyArb,
  })
  const whole = fc.tuple(request, cutsArb).map(([r, cuts]) => {
    const head = [`${r.method} ${r.path}${r.query} ${r.version}`.trimEnd(), ...r.host, ...r.headers, ...r.body.headers, 'Connection: close'].join('\r\n')
    const bytes = Buffer.from(`${head}\r\n\r\n${r.body.body}`, 'utf8')
    return { what: `http: ${r.method.slice(0, 12)} ${r.path.slice(0, 40)}`, chunks: splitAt(bytes, cuts), complete: r.body.whole, expect: 1 }
  })
  const mutated = fc.tuple(whole, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([w, muts, cuts]) => ({
    what: `http mutated (${muts.map((m) => m.op).join(',')}): ${w.what}`,
    chunks: splitAt(mutate(Buffer.concat(w.chunks), muts), cuts),
    complete: false,
    expect: 0,
  }))
  return fc.oneof({ weight: 3, arbitrary: whole }, { weight: 2, arbitrary: mutated })
}

/** One answer = a status line; bytes that do not start one are not HTTP. */
export function httpCounter(): AnswerCounter {
  let head = ''
  return (chunk) => {
    if (head.length < 16) head += chunk.toString('latin1')
    if (head.length >= 12 || head.includes('\r\n')) {
      if (!/^HTTP\/1\.[01] [1-5]\d\d /.test(head)) throw new Error(`not an HTTP status line: ${JSON.stringify(head.slice(0, 40))}`)
      return 1
    }
    return 0
  }
}
