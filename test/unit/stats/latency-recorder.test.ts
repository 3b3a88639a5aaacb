// LatencyRecorder: the request path's bucket counters fold into an HdrHistogram with every count and percentiles within 4%.
// Pure: no servers.
import t from 'tap';
import { LatencyRecorder, newLatencyHistogram } from '../../../src/stats/histogram.ts';

t.test('counts and percentiles survive the fold', async (t) => {
  const r = new LatencyRecorder();
  const exact = newLatencyHistogram();
  let seed = 7;
  for (let i = 0; i < 100_000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = Math.max(1, Math.floor(Math.exp((seed / 2 ** 32) * 15)));
    r.record(v);
    exact.recordValue(v);
  }
  const h = r.flush();
  t.equal(h.totalCount, exact.totalCount, 'every recorded value counted');
  for (const p of [50, 90, 99, 99.9]) {
    const a = h.getValueAtPercentile(p);
    const b = exact.getValueAtPercentile(p);
    t.ok(Math.abs(a - b) / b < 0.04, `p${p}: ${a} vs exact ${b}`);
  }
  t.equal(r.flush().totalCount, exact.totalCount, 'a second flush adds nothing');
  r.record(0.3);
  r.record(1e12);
  t.equal(r.flush().totalCount, exact.totalCount + 2, 'out-of-range values are clamped, not lost');
});
