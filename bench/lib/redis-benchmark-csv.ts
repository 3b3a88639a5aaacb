// Parser of `redis-benchmark --csv` output (Redis 7: header row, then one quoted row per test).
// Never guesses: an unexpected header or a non-numeric cell is an error, not a zero.

export interface RedisBenchmarkRow {
  /** Test name as redis-benchmark prints it, upper case ("SET", "GET", "LPUSH"...). */
  test: string;
  rps: number;
  avgLatencyMs: number;
  minLatencyMs: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  p99LatencyMs: number;
  maxLatencyMs: number;
}

const columns = [
  ['rps', 'rps'],
  ['avg_latency_ms', 'avgLatencyMs'],
  ['min_latency_ms', 'minLatencyMs'],
  ['p50_latency_ms', 'p50LatencyMs'],
  ['p95_latency_ms', 'p95LatencyMs'],
  ['p99_latency_ms', 'p99LatencyMs'],
  ['max_latency_ms', 'maxLatencyMs'],
] as const;

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell);
  return cells;
}

/**
 * Rows of the CSV. Older redis-benchmark versions print only "test","rps" without a header;
 * those rows parse with latencies as NaN.
 */
export function parseRedisBenchmarkCsv(text: string): RedisBenchmarkRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.startsWith('"'));
  if (lines.length === 0) throw new Error(`no CSV rows in redis-benchmark output: ${JSON.stringify(text.slice(0, 200))}`);
  let header: string[] = ['test', 'rps'];
  const rows: RedisBenchmarkRow[] = [];
  for (const line of lines) {
    const cells = splitCsvLine(line);
    if (cells[0] === 'test') {
      header = cells;
      continue;
    }
    const row: RedisBenchmarkRow = {
      test: cells[0]!,
      rps: Number.NaN,
      avgLatencyMs: Number.NaN,
      minLatencyMs: Number.NaN,
      p50LatencyMs: Number.NaN,
      p95LatencyMs: Number.NaN,
      p99LatencyMs: Number.NaN,
      maxLatencyMs: Number.NaN,
    };
    for (const [csvName, field] of columns) {
      const index = header.indexOf(csvName);
      if (index < 0) continue;
      const value = Number(cells[index]);
      if (cells[index] === undefined || cells[index] === '' || !Number.isFinite(value)) {
        throw new Error(`bad ${csvName} in redis-benchmark row: ${line}`);
      }
      row[field] = value;
    }
    if (!Number.isFinite(row.rps)) throw new Error(`no rps column in redis-benchmark output: ${line}`);
    rows.push(row);
  }
  return rows;
}
