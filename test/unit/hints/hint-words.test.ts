// Each protocol's hint words: which replies mean "not stored" and which writes may be replayed after an ambiguous failure.

import t from 'tap'
import { MEMCACHE_HINT_WORDS, RESP_HINT_WORDS } from '../../../src/hints/index.ts'

const b = (s: string): Buffer => Buffer.from(s)
const resp = (...args: string[]): Buffer => b(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)

t.test('RESP', async (t) => {
  const w = RESP_HINT_WORDS
  for (const r of ['-ERR Storage: Connection refused\r\n', "-ERR Dynomite: Dynomite's current state does not allow this request\r\n"]) t.ok(w.notStored(b(r), 0, r.length), r.trim())
  for (const r of ['-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', '+OK\r\n', '-ERR Peer: Peer Node is down\r\n']) t.notOk(w.notStored(b(r), 0, r.length), r.trim())
  for (const c of [resp('SET', 'k', 'v'), resp('set', 'k', 'v', 'EX', '10'), resp('Del', 'a', 'b'), resp('HSET', 'h', 'f', 'v')]) t.ok(w.idempotent(c, 0, c.length), c.toString())
  for (const c of [resp('INCR', 'k'), resp('APPEND', 'k', 'v'), resp('LPUSH', 'l', 'v'), resp('MULTI'), resp('SETRANGE', 'k', '0', 'v'), b('garbage')]) t.notOk(w.idempotent(c, 0, c.length), c.toString())
  // In place, at an offset.
  const padded = Buffer.concat([b('xxxx'), resp('SET', 'k', 'v')])
  t.ok(w.idempotent(padded, 4, padded.length))
})

t.test('memcached', async (t) => {
  const w = MEMCACHE_HINT_WORDS
  for (const r of ['SERVER_ERROR Storage: Connection refused\r\n', 'SERVER_ERROR out of memory storing object\r\n']) t.ok(w.notStored(b(r), 0, r.length), r.trim())
  for (const r of ['NOT_STORED\r\n', 'EXISTS\r\n', 'NOT_FOUND\r\n', 'STORED\r\n', 'SERVER_ERROR object too large for cache\r\n']) t.notOk(w.notStored(b(r), 0, r.length), r.trim())
  for (const c of ['set k 0 0 1\r\nv\r\n', 'delete k\r\n', 'touch k 10\r\n']) t.ok(w.idempotent(b(c), 0, c.length), c.trim())
  for (const c of ['incr k 1\r\n', 'append k 0 0 1\r\nv\r\n', 'settle k\r\n']) t.notOk(w.idempotent(b(c), 0, c.length), c.trim())
})
