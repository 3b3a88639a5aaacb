// Tests of the dated results history.
// Never writes outside its tap test directory.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileStamp, latestResult, listResultFiles, writeResults } from '../lib/results-store.ts';

t.test('file stamps are ISO 8601 without colons and sort by time', async (t) => {
  t.equal(fileStamp(new Date('2026-11-25T13:24:02.609Z')), '2026-11-25T13-24-02Z');
  const a = fileStamp(new Date('2026-01-02T03:04:05Z'));
  const b = fileStamp(new Date('2026-11-25T00:00:00Z'));
  t.ok(a < b);
});

t.test('results are never overwritten, and the latest matching one is found', async (t) => {
  const dir = t.testdir({ 'unrelated.json': '{}' });
  const when = new Date('2026-11-25T13:24:02Z');
  const first = writeResults(dir, 'suite-x', when, { n: 1, idle: true });
  const second = writeResults(dir, 'suite-x', when, { n: 2 });
  t.not(first, second);
  t.equal(JSON.parse(readFileSync(first, 'utf8')).n, 1, 'first file intact');
  writeResults(dir, 'suite-x', new Date('2026-11-24T00:00:00Z'), { n: 0, idle: true });
  writeFileSync(join(dir, '2026-11-26T00-00-00Z-other-suite.json'), '{"n":9}');
  t.same(listResultFiles(dir, 'suite-x'), [
    '2026-11-24T00-00-00Z-suite-x.json',
    '2026-11-25T13-24-02Z-suite-x.json',
    '2026-11-25T13-24-02Z-suite-x-2.json',
  ], 'oldest first, same-second suffixes after the plain name');
  t.equal(latestResult<{ n: number }>(dir, 'suite-x')?.data.n, 2);
  const withIdle = latestResult<{ n: number; idle?: boolean }>(dir, 'suite-x', (d) => d.idle === true);
  t.equal(withIdle?.data.n, 1);
  t.equal(latestResult(join(dir, 'missing'), 'suite-x'), undefined);
});
