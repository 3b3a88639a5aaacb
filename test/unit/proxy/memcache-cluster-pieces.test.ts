// The protocol-specific pieces of a memcached cluster node, alone: the peer link's reply scanner in memcached mode (one reply per RES,
// errors by memcached's words), the quorum merge with memcached's no-quorum line, and the request cuts (noreply, q, cas unique).
// Pure: frames and requests are built by hand here, nothing touches a socket.

import t from 'tap'
import { DnodeReplyScanner } from '../../../src/io/peer-link.ts'
import { QuorumMerge } from '../../../src/proxy/routing/merge.ts'
import { MemcacheRequestParser, noreplyTokenStart, quietFlagStart, casUniqueStart, SERVER_ERROR_NO_QUORUM } from '../../../src/protocol/memcache/index.ts'

function res(msgId: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1')
  return Buffer.concat([Buffer.from(`   $2014$ ${msgId} 5 0 1 1 *1 d *${body.length}\r\n`), body])
}

t.test('a memcached peer link frames one memcached reply per RES and tells errors by their words', async (t) => {
  const cases: [string, boolean][] = [
    ['VALUE k 0 3\r\nabc\r\nVALUE j 5 1\r\nx\r\nEND\r\n', false],
    ['END\r\n', false],
    ['VA 2 f5\r\nhi\r\n', false],
    ['STORED\r\n', false],
    ['HD\r\n', false],
    ['SERVER_ERROR Peer: Connection refused\r\n', true],
    ['CLIENT_ERROR bad command line format\r\n', true],
    ['ERROR\r\n', true],
  ]
  for (const [payload, isError] of cases) {
    const sc = new DnodeReplyScanner(1 << 20, true)
    const f = res(7, payload)
    t.equal(sc.scan(f, 0, f.length), f.length, `framed: ${JSON.stringify(payload)}`)
    t.equal(f.subarray(sc.replyStart, sc.replyEnd).toString('latin1'), payload)
    t.equal(sc.isError, isError, `isError ${isError}`)
    t.equal(sc.msgId, 7)
  }
  for (const bad of ['STORED\r\nSTORED\r\n', 'VALUE k 0 3\r\nabc\r\n', '']) {
    const sc = new DnodeReplyScanner(1 << 20, true)
    const f = res(1, bad)
    t.equal(sc.scan(f, 0, f.length), -1, `refused as a RES payload: ${JSON.stringify(bad)}`)
  }
  // The RESP link keeps its own test: '-' is an error, a memcached error line is no RESP reply at all.
  const rs = new DnodeReplyScanner(1 << 20)
  const f = res(1, 'SERVER_ERROR x\r\n')
  t.equal(rs.scan(f, 0, f.length), -1, 'a RESP link refuses memcached text')
})

t.test('quorum merge over memcached replies: majority, errors and the SERVER_ERROR no-quorum line', async (t) => {
  const part = (m: QuorumMerge, i: number, s: string, err = false): void => {
    const b = Buffer.from(s)
    m.part(i, b, 0, b.length, err)
  }
  const v = 'VALUE k 0 1\r\na\r\nEND\r\n'
  const safe = new QuorumMerge(3, true, SERVER_ERROR_NO_QUORUM)
  part(safe, 0, v)
  part(safe, 1, 'VALUE k 0 1\r\nb\r\nEND\r\n')
  t.notOk(safe.decided)
  part(safe, 2, v)
  t.ok(safe.decided && safe.succeeded)
  t.equal(Buffer.from(safe.finish()).toString(), v)

  const split = new QuorumMerge(3, true, SERVER_ERROR_NO_QUORUM)
  part(split, 0, 'END\r\n')
  part(split, 1, v)
  part(split, 2, 'SERVER_ERROR Peer: Connection refused\r\n', true)
  t.ok(split.decided)
  t.notOk(split.succeeded, 'no majority is not a success')
  t.equal(Buffer.from(split.finish()).toString(), 'SERVER_ERROR Dynomite: Failed to achieve Quorum\r\n')

  const errs = new QuorumMerge(3, false, SERVER_ERROR_NO_QUORUM)
  part(errs, 0, 'SERVER_ERROR a\r\n', true)
  part(errs, 1, 'SERVER_ERROR b\r\n', true)
  t.ok(errs.decided)
  t.notOk(errs.succeeded, 'decided on an error reply (a memcached one: no RESP - byte to go by)')
})

t.test('request cuts: noreply, the meta q flag, the cas unique', async (t) => {
  const p = new MemcacheRequestParser()
  const at = (s: string): { buf: Buffer; end: number } => {
    const buf = Buffer.from(s)
    p.reset()
    return { buf, end: p.parse(buf, 0, buf.length) }
  }
  let r = at('set k 0 0 1 noreply\r\nx\r\n')
  t.equal(noreplyTokenStart(p, r.buf), 'set k 0 0 1'.length)
  r = at('delete k\r\n')
  t.equal(noreplyTokenStart(p, r.buf), -1)
  r = at('ms k 2 T0 q F5\r\nhi\r\n')
  t.equal(r.buf.subarray(quietFlagStart(p, r.buf), quietFlagStart(p, r.buf) + 2).toString(), ' q')
  r = at('mg k q v\r\n')
  t.equal(r.buf.subarray(quietFlagStart(p, r.buf), quietFlagStart(p, r.buf) + 2).toString(), ' q')
  r = at('mg k v\r\n')
  t.equal(quietFlagStart(p, r.buf), -1)
  const out = new Int32Array(1)
  r = at('cas key 5 0 3 12345 noreply\r\nabc\r\n')
  const u = casUniqueStart(p, r.buf, out)
  t.equal(r.buf.subarray(out[0]!, u).toString(), ' key 5 0 3', 'between the command word and the unique: what a set keeps')
  t.equal(r.buf.subarray(u).toString().startsWith(' 12345'), true)
})
