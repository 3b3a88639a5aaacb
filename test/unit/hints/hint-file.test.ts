// The hints file codec: records round-trip, skip records remove from the head, and a truncated or corrupt tail (or header)
// leaves the good prefix and counts the bytes after it.

import t from 'tap'
import { decodeFile, encodeHeader, encodeRecord, encodeSkip, hintFileName, REC_HINT } from '../../../src/hints/hint-file.ts'

const ID = 'dc1/rack2/127.0.0.1:8101/1383429731'

function file(...records: Buffer[]): Buffer {
  return Buffer.concat([encodeHeader(ID), ...records])
}

const hint = (s: string, forward = false, at = 1_700_000_000_000): Buffer => encodeRecord(REC_HINT, forward, at, Buffer.from(s))

t.test('round trip, in order, with flags and times', async (t) => {
  const d = decodeFile(file(hint('*1\r\n$4\r\nPING\r\n'), hint('b', true, 42.5), hint('')))
  t.equal(d.id, ID)
  t.equal(d.badBytes, 0)
  t.same(d.hints.map((h) => Buffer.from(h.bytes).toString()), ['*1\r\n$4\r\nPING\r\n', 'b', ''])
  t.same(d.hints.map((h) => h.forward), [false, true, false])
  t.equal(d.hints[1]!.at, 42.5)
})

t.test('skip records remove hints from the head, wherever they are in the file', async (t) => {
  const d = decodeFile(file(hint('a'), hint('b'), encodeSkip(1, 0), hint('c'), encodeSkip(1, 0)))
  t.same(d.hints.map((h) => Buffer.from(h.bytes).toString()), ['c'])
  t.same(decodeFile(file(hint('a'), encodeSkip(5, 0))).hints, [], 'more skips than hints: none left')
})

t.test('a truncated last record: the good prefix, and the rest counted', async (t) => {
  const full = file(hint('one'), hint('two'), hint('three'))
  for (let cut = 1; cut < hint('three').length; cut++) {
    const d = decodeFile(full.subarray(0, full.length - cut))
    t.same(d.hints.map((h) => Buffer.from(h.bytes).toString()), ['one', 'two'], `cut ${cut}`)
    t.equal(d.badBytes, hint('three').length - cut)
  }
})

t.test('a flipped byte fails the checksum of its record; what follows is not trusted', async (t) => {
  const recs = [hint('one'), hint('two'), hint('three')]
  const buf = file(...recs)
  const second = encodeHeader(ID).length + recs[0]!.length
  for (const at of [second + 4, second + 8, second + 12, second + 18]) {
    const bad = Buffer.from(buf)
    bad[at] = bad[at]! ^ 0xff
    const d = decodeFile(bad)
    t.same(d.hints.map((h) => Buffer.from(h.bytes).toString()), ['one'], `byte ${at - second} of the second record`)
    t.equal(d.badBytes, recs[1]!.length + recs[2]!.length)
  }
  const huge = Buffer.from(buf)
  huge.writeUInt32LE(0xfffffff0, second)
  t.equal(decodeFile(huge).hints.length, 1, 'an absurd length ends the prefix')
})

t.test('a bad header: no identity, nothing loaded, every byte counted', async (t) => {
  const good = file(hint('a'))
  for (const bad of [Buffer.alloc(0), Buffer.from('garbage'), Buffer.concat([Buffer.from('DYNHINT2'), good.subarray(8)])]) {
    const d = decodeFile(bad)
    t.equal(d.id, null)
    t.same(d.hints, [])
    t.equal(d.badBytes, bad.length)
  }
  const crcBad = Buffer.from(good)
  crcBad[12] = crcBad[12]! ^ 1
  t.equal(decodeFile(crcBad).id, null, 'identity checksum')
})

t.test('file names are safe and distinct per pool, worker and target', async (t) => {
  const a = hintFileName('dyn_o_mite', 0, ID)
  t.match(a, /^dyn_o_mite\.w0\.[A-Za-z0-9._-]+\.hints$/)
  t.not(a, hintFileName('dyn_o_mite', 1, ID))
  t.not(a, hintFileName('dyn_o_mite', 0, ID.replace('8101', '8102')))
  t.notOk(hintFileName('../x', 0, '../../etc').includes('/'))
})

t.test('an unusable hints_dir is reported, not hung on (a path under /proc, a path through a file)', async (t) => {
  const { HintFiles } = await import('../../../src/hints/hint-persist.ts')
  for (const dir of ['/proc/dynoproxy-nope/hints', '/etc/passwd/hints']) {
    const events: { what: string; reason: string }[] = []
    const started = Date.now()
    new HintFiles(dir, 'p', 0, (e) => events.push(e))
    t.ok(Date.now() - started < 2000, `${dir}: returned at once`)
    t.equal(events[0]?.what, 'dir-unwritable', `${dir}: reported as not writable`)
    t.match(events[0]?.reason ?? '', /hints kept in memory only/)
  }
})
