// Differential: memcached's whole text and meta command set through dynoproxy (1 and 3 backends) vs a direct memcached.
// It must never compare less than the bytes: only cas values across 3 backends and ±1 s clock readings are normalised.

import t from 'tap'
import { McDiffSession, casOf, startMcDiffTargets } from '../helpers/memcached-differential.ts'
import type { SplitMode } from '../helpers/memcached-differential.ts'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import type { McReply } from '../helpers/memcached-reply-reader.ts'

const BINARY_VALUE = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x20, 0x45, 0x4e, 0x44, 0x0d, 0x0a]) // contains "\r\n END\r\n"

function lines(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1'))))
}

/** Classic storage, retrieval, touch/gat, verbosity, version: a key per command family, with noreply forms. */
function classicStage(p: string): Buffer {
  return lines(
    storage('set', `${p}k1`, 'hello'),
    storage('set', `${p}k2`, '', { flags: 123 }),
    storage('set', `${p}bin`, BINARY_VALUE, { flags: 4294967295 }),
    `get ${p}k1\r\nget ${p}k2\r\nget ${p}bin\r\nget ${p}missing\r\n`,
    storage('add', `${p}k1`, 'x'),
    storage('add', `${p}k3`, 'abc', { flags: 1 }),
    storage('replace', `${p}k4`, 'x'),
    storage('replace', `${p}k3`, 'xyz', { flags: 2 }),
    storage('append', `${p}k1`, ' world'),
    storage('prepend', `${p}k1`, '>> '),
    storage('append', `${p}nope`, 'x'),
    storage('prepend', `${p}nope`, 'x'),
    `get ${p}k1 ${p}k3\r\n`,
    storage('set', `${p}nr`, 'abc', { flags: 7, noreply: true }),
    storage('add', `${p}nr`, 'zzz', { noreply: true }),
    storage('replace', `${p}nr`, 'rep', { flags: 8, noreply: true }),
    storage('append', `${p}nr`, '+', { noreply: true }),
    storage('prepend', `${p}nr`, '-', { noreply: true }),
    storage('add', `${p}nr2`, 'new', { noreply: true }),
    `get ${p}nr ${p}nr2\r\n`,
    `touch ${p}k1 1000\r\ntouch ${p}missing 10\r\ntouch ${p}k3 1000 noreply\r\n`,
    `gat 1000 ${p}k1 ${p}missing ${p}k3\r\ngats 0 ${p}k2\r\ngets ${p}k1 ${p}k2 ${p}k3\r\n`,
    `gat 500\r\n`,
    `get ${p}k1 ${p}k1 ${p}missing ${p}k1\r\n`,
    'verbosity 1\r\nverbosity 0 noreply\r\nversion\r\nmn\r\n',
  )
}

/** incr/decr (wrap-around, non-numeric, bad delta), delete with its hold-time forms. */
function counterStage(p: string): Buffer {
  return lines(
    storage('set', `${p}n`, '10'),
    `incr ${p}n 5\r\ndecr ${p}n 20\r\nincr ${p}n 18446744073709551615\r\nincr ${p}n 1\r\n`,
    `incr ${p}n 18446744073709551616\r\nincr ${p}n abc\r\nincr ${p}missing 1\r\ndecr ${p}missing 1\r\n`,
    `incr ${p}k1 1\r\nincr ${p}n 7 noreply\r\ndecr ${p}n 2 noreply\r\nget ${p}n\r\n`,
    storage('set', `${p}len`, '9'),
    `incr ${p}len 1\r\nget ${p}len\r\ndecr ${p}len 1\r\nget ${p}len\r\n`,
    `delete ${p}k3\r\ndelete ${p}k3\r\ndelete ${p}k2 noreply\r\ndelete ${p}k1 0\r\ndelete ${p}n 5\r\n`,
    `delete ${p}len 0 noreply\r\nget ${p}k1 ${p}k2 ${p}k3 ${p}n ${p}len\r\nmn\r\n`,
  )
}

function casSetupStage(p: string): Buffer {
  return lines(storage('set', `${p}c1`, 'a'), storage('set', `${p}c2`, 'b'), `gets ${p}c1\r\ngets ${p}c2\r\nmn\r\n`)
}

/** cas with the real cas uniques this server gave in the previous stage: STORED, then EXISTS for the stale one. */
function casStage(p: string, prev: readonly McReply[]): Buffer {
  const c1 = casOf(prev[2])
  const c2 = casOf(prev[3])
  return lines(
    storage('cas', `${p}c1`, 'A1', { cas: c1 }),
    storage('cas', `${p}c1`, 'A2', { cas: c1 }),
    storage('cas', `${p}nope`, 'x', { cas: c1 }),
    storage('cas', `${p}c2`, 'B1', { cas: c2, noreply: true }),
    storage('cas', `${p}c2`, 'B2', { cas: c2, noreply: true }),
    `cas ${p}c1 0 0 1 abc\r\nx\r\n`,
    `gets ${p}c1 ${p}c2\r\n`,
    `ms ${p}c1 2 C${c1}\r\nM1\r\nmg ${p}c1 c v\r\nmn\r\n`,
  )
}

/** Meta cas: ms/md with the c value just read (HD), then again with it (EX). */
function metaCasStage(p: string, prev: readonly McReply[]): Buffer {
  const c = casOf(prev[prev.length - 2])
  return lines(`ms ${p}c1 2 C${c}\r\nM2\r\nms ${p}c1 2 C${c}\r\nM3\r\nmg ${p}c1 v\r\nmd ${p}c1 C${c}\r\nmd ${p}c1 q\r\nmg ${p}c1 v\r\nmn\r\n`)
}

/** Meta commands with their flags: v f t s k c h l O q b, ms modes, md, ma, me. */
function metaStage(p: string): Buffer {
  const b64 = Buffer.from(`${p}b64key`).toString('base64')
  return lines(
    `ms ${p}m1 5\r\nhello\r\nms ${p}m1 5 T0 F30 O7\r\nhello\r\n`,
    `mg ${p}m1 v f t s k c O42\r\nmg ${p}m1\r\nmg ${p}m1 k v O1 q\r\n`,
    `mg ${p}miss v\r\nmg ${p}miss v q O9\r\nmg ${p}miss v O10 k\r\n`,
    `ms ${p}m2 3 T1000\r\nabc\r\nmg ${p}m2 t v\r\nmg ${p}m2 h l t\r\nmg ${p}m2 h\r\n`,
    `ms ${p}m3 3 q\r\nxyz\r\nms ${p}m3 3 MA\r\nabc\r\nms ${p}m3 3 MP q\r\n123\r\n`,
    `ms ${p}miss2 1 MA\r\nx\r\nms ${p}miss2 1 MA q\r\nx\r\nms ${p}m3 1 ME\r\nx\r\n`,
    `ms ${p}m4 1 ME\r\nx\r\nms ${p}m4 1 MR\r\ny\r\nms ${p}miss3 1 MR\r\ny\r\nms ${p}m5 2 MS I\r\nzz\r\n`,
    `mg ${p}m3 v\r\nmg ${p}m4 v s\r\n`,
    `md ${p}m4\r\nmd ${p}m4\r\nmd ${p}m4 q\r\nmd ${p}m3 q\r\nmd ${p}m2 O5 k\r\nmg ${p}m2 v\r\n`,
    `ms ${p}cnt 2\r\n10\r\nma ${p}cnt\r\nma ${p}cnt v\r\nma ${p}cnt MD D5 v\r\nma ${p}cnt q\r\nma ${p}cnt v q\r\n`,
    `ma ${p}cnt v t N0\r\nma ${p}nocnt\r\nma ${p}nocnt q\r\nma ${p}viv N0 J13 v\r\nma ${p}viv MI D18446744073709551615 v\r\n`,
    `mg ${p}cnt v\r\nmg ${p}viv v\r\nmn\r\n`,
    `mg ${p}m1 v q\r\nmg ${p}miss v q\r\nmg ${p}m2 v q k\r\nmg ${p}cnt v q O77\r\nmn\r\n`,
    `me ${p}m1\r\nme ${p}miss\r\n`,
    `ms ${b64} 3 b\r\nabc\r\nmg ${b64} b v k\r\nget ${p}b64key\r\nmd ${b64} b q\r\nmg ${b64} b v\r\nmn\r\n`,
  )
}

/** Requests memcached answers with an error and then reads on after (no connection closed). */
function errorStage(p: string): Buffer {
  return lines(
    // First: memcached 1.6.18 discards the replies it has queued for earlier requests of the same read when a get
    // fails on a key too long (it rewinds its response list), a quirk the proxy rightly does not copy.
    `get ${'x'.repeat(251)}\r\nget ${'y'.repeat(250)}\r\n`,
    'foo bar\r\nget\r\n',
    `set ${p}e 0 0 abc\r\nset ${p}e 0 0 -1\r\nset ${p}e 0 0\r\n`,
    `set ${p}e 0 0 3\r\nabcde\r\n`,
    `set ${p}e2 0 0 3\r\nabc\r\n`,
    `incr ${p}e2\r\ntouch ${p}e2 abc\r\ngat abc ${p}e2\r\n`,
    `mg ${p}e2 zz\r\nms ${p}e abc\r\nms ${p}e 2 MZ\r\nab\r\nma ${p}e2 MZ\r\n`,
    `get ${p}e ${p}e2\r\nmn\r\n`,
  )
}

/** flush_all forms: OK, immediate effect, noreply silence. */
function flushStage(p: string): Buffer {
  return lines(
    storage('set', `${p}f`, 'x'),
    `flush_all\r\nget ${p}f\r\n`,
    storage('set', `${p}f`, 'y'),
    `flush_all 0\r\nget ${p}f\r\n`,
    storage('set', `${p}f`, 'z'),
    `flush_all noreply\r\nget ${p}f\r\nmn\r\n`,
  )
}

async function scenario(session: McDiffSession, p: string, split: (stage: number) => SplitMode): Promise<void> {
  await session.stage(`${p} classic`, () => classicStage(p), split(1))
  await session.stage(`${p} counters, delete`, () => counterStage(p), split(2))
  await session.stage(`${p} cas setup`, () => casSetupStage(p), split(3))
  await session.stage(`${p} cas`, (prev) => casStage(p, prev), split(4))
  await session.stage(`${p} meta cas`, (prev) => metaCasStage(p, prev), split(5))
  await session.stage(`${p} meta`, () => metaStage(p), split(6))
  await session.stage(`${p} errors`, () => errorStage(p), split(7))
  await session.stage(`${p} flush_all`, () => flushStage(p), split(8))
}

const env = await startMcDiffTargets(t)

t.test('whole command set, each stage pipelined in one write', async (t) => {
  const session = await McDiffSession.open(t, env)
  await scenario(session, 'w:', () => 'whole')
  session.close()
})

t.test('whole command set, each stage split at random points', async (t) => {
  const seed = Number(process.env['DYNOPROXY_ITEST_SEED'] ?? Date.now() % 100_000)
  t.comment(`split seed ${seed} (DYNOPROXY_ITEST_SEED to replay)`)
  const session = await McDiffSession.open(t, env)
  await scenario(session, 's:', (stage) => ({ seed: seed + stage, pieces: 40 }))
  session.close()
})

t.test('classic and meta stages one byte per write', async (t) => {
  const session = await McDiffSession.open(t, env)
  await session.stage('b: classic', () => classicStage('b:'), 'bytes')
  await session.stage('b: quiet meta', () => `ms b:q 1\r\nx\r\nmg b:q v q\r\nmg b:none v q\r\nmd b:none q\r\nma b:none q\r\nmn\r\n`, 'bytes')
  session.close()
})

t.test('stats is answered by the proxy itself: STAT lines then END', async (t) => {
  for (const target of env.targets) {
    const conn = await McConnection.connect(target.port, { t })
    const reply = await conn.call('stats\r\n')
    const text = reply.raw.toString('latin1')
    t.match(text, /^(STAT [a-z_]+ \S+\r\n)+END\r\n$/, `${target.name}: well-formed stats`)
    t.match(text, /STAT version dynoproxy-/, `${target.name}: names the proxy`)
    t.equal(await conn.head('version\r\n'), (await env.reference.call('version\r\n')).head, `${target.name}: version forwarded`)
    conn.destroy()
  }
})
