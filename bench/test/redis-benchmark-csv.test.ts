// Tests of the redis-benchmark CSV parser on captured Redis 7 output.
// Never runs redis-benchmark.
import t from 'tap';
import { parseRedisBenchmarkCsv } from '../lib/redis-benchmark-csv.ts';

// Captured from redis-benchmark 7.0.15 (Debian) with -t get,set -q --csv.
const redis7 = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","64724.92","0.484","0.096","0.375","0.815","2.215","4.255"
"GET","82644.62","0.334","0.088","0.319","0.503","0.655","2.591"
`;

t.test('Redis 7 CSV with header and latency columns', async (t) => {
  const rows = parseRedisBenchmarkCsv(redis7);
  t.equal(rows.length, 2);
  t.same(rows[0], {
    test: 'SET', rps: 64724.92, avgLatencyMs: 0.484, minLatencyMs: 0.096, p50LatencyMs: 0.375,
    p95LatencyMs: 0.815, p99LatencyMs: 2.215, maxLatencyMs: 4.255,
  });
  t.equal(rows[1]!.test, 'GET');
  t.equal(rows[1]!.rps, 82644.62);
});

t.test('warnings on other lines are ignored', async (t) => {
  const rows = parseRedisBenchmarkCsv(`WARNING: Could not fetch server CONFIG\n${redis7}`);
  t.equal(rows.length, 2);
});

t.test('older header-less output has rps only', async (t) => {
  const rows = parseRedisBenchmarkCsv('"PING_INLINE","81300.81"\n"SET","80000.00"\n');
  t.equal(rows.length, 2);
  t.equal(rows[1]!.rps, 80000);
  t.ok(Number.isNaN(rows[1]!.p50LatencyMs));
});

t.test('quoted commas and doubled quotes stay in the cell', async (t) => {
  const rows = parseRedisBenchmarkCsv('"test","rps"\n"LRANGE_100 (first 100 elements), ""x""","1000.5"\n');
  t.equal(rows[0]!.test, 'LRANGE_100 (first 100 elements), "x"');
  t.equal(rows[0]!.rps, 1000.5);
});

t.test('garbage is an error, never a zero', async (t) => {
  t.throws(() => parseRedisBenchmarkCsv('Could not connect to Redis at 127.0.0.1:1: Connection refused\n'));
  t.throws(() => parseRedisBenchmarkCsv('"test","rps"\n"SET","fast"\n'), /bad rps/);
  t.throws(() => parseRedisBenchmarkCsv('"test","rps","p50_latency_ms"\n"SET","100"\n'), /bad p50_latency_ms/);
});
