// Renders the memcached-benchmark block of BENCHMARKS.md from a results file.
// Never measures anything and never reads anything but the results it is given.
import { markdownTable } from '../lib/benchmarks-doc.ts';
import type { McBenchmarkResults, McThroughputSummary } from './result-types.ts';

export interface McResultsFile {
  file: string;
  data: McBenchmarkResults;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | null | undefined, digits: number): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));
const pair = (a: number | null | undefined, b: number | null | undefined, digits: number): string => `${fixed(a, digits)} / ${fixed(b, digits)}`;
/** The issue's floor: dynoproxy at least 0.8x twemproxy's throughput on the same run. */
const TARGET_VS_TWEMPROXY = 0.8;

function provenance(r: McResultsFile): string {
  const d = r.data;
  const when = d.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const dirty = d.git.dirty ? ' with uncommitted changes' : '';
  return `\`bench/results/${r.file}\` (${when}, commit \`${d.git.commit.slice(0, 10)}\`${dirty})`;
}

function method(d: McBenchmarkResults): string[] {
  const o = d.options;
  const waited = (d.throughput?.runs.reduce((s, r) => s + r.quietWaitMs, 0) ?? 0) / 1000;
  return [
    '### Method',
    '',
    `- CPU: ${d.machine.cpuModel}, ${d.machine.cores} logical cores; Linux ${d.machine.kernel}. ${Object.entries(d.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
    `- One \`memcached -U 0\` on loopback; nutcracker (ketama, fnv1a_64, \`redis: false\`) and dynoproxy (\`data_store: 1\`,`,
    '  1 and 2 data workers) each in front of that same server. Client, proxies and memcached share the cores:',
    '  the figures compare targets; they are not capacity.',
    `- Client: ${d.throughput?.client ?? 'our closed-loop load client'}`,
    `- ${o.clients} connections, ${int(o.requests)} requests per run, ${o.keys} keys of ${o.valueSize}-byte values (all hits), SET run before GET.`,
    `- Interleaved: each round runs every target before the next; ${o.rounds} rounds after an unmeasured warm-up. rps is the`,
    '  median over rounds, (n%) its spread (max − min) / median; latency is the round trip of one write of P requests.',
    '- CPU µs/request: utime + stime of the whole process from `/proc/<pid>/stat`, read once every connection is open and',
    `  again after the run, pooled over the rounds (1/${d.clockTicksPerSecond} s ticks). "memcached CPU" is memcached's cost behind that target.`,
    '- "other load": median share of all cores used by processes outside the benchmark; above a few percent the row is noisy.',
    ...(o.quiet.perRunMs === 0 ? [] : [`- Before each run the runner waited up to ${o.quiet.perRunMs / 1000} s (${o.quiet.totalMs / 1000} s in all) for that load to fall to ${Math.round(o.quiet.threshold * 100)}%; it waited ${waited.toFixed(0)} s in all.`]),
    `- Produced by: \`${d.command}\``,
  ];
}

function table(summary: readonly McThroughputSummary[], pipeline: number): string {
  const rows = summary.filter((s) => s.pipeline === pipeline);
  const find = (target: string, test: string): McThroughputSummary | undefined => rows.find((s) => s.target === target && s.test === test);
  const targets = [...new Set(rows.map((s) => s.target))];
  const ratio = (target: string, base: string, test: string): number | undefined => {
    const a = find(target, test);
    const b = find(base, test);
    return a === undefined || b === undefined ? undefined : a.rps / b.rps;
  };
  const header = ['target', 'GET rps', 'SET rps', 'vs direct GET / SET', 'vs twemproxy GET / SET', 'proxy CPU µs/req GET / SET', 'memcached CPU µs/req GET / SET', 'proxy RSS MiB', 'p50 / p99 ms GET', 'other load % GET / SET'];
  const body = targets.map((target) => {
    const get = find(target, 'GET');
    const set = find(target, 'SET');
    const rps = (s: McThroughputSummary | undefined): string => (s === undefined ? '–' : `${int(s.rps)} (${Math.round(s.rpsSpread * 100)}%)`);
    const rss = Math.max(get?.proxyRssKb ?? -1, set?.proxyRssKb ?? -1);
    return [
      target,
      rps(get),
      rps(set),
      pair(ratio(target, 'direct', 'GET'), ratio(target, 'direct', 'SET'), 2),
      pair(ratio(target, 'twemproxy', 'GET'), ratio(target, 'twemproxy', 'SET'), 2),
      pair(get?.proxyCpuUsPerRequest, set?.proxyCpuUsPerRequest, 2),
      pair(get?.memcachedCpuUsPerRequest, set?.memcachedCpuUsPerRequest, 2),
      rss < 0 ? '–' : (rss / 1024).toFixed(1),
      pair(get?.p50LatencyMs, get?.p99LatencyMs, 3),
      pair(get === undefined ? undefined : get.otherLoad * 100, set === undefined ? undefined : set.otherLoad * 100, 0),
    ];
  });
  return markdownTable(header, body, header.map((_, i) => (i === 0 ? 'l' : 'r')));
}

/** One line per dynoproxy target, pipeline and test: its ratio to twemproxy against the issue's 0.8 floor. */
function targetLines(summary: readonly McThroughputSummary[]): string[] {
  const lines: string[] = [];
  for (const s of summary) {
    if (!s.target.startsWith('dynoproxy')) continue;
    const base = summary.find((b) => b.target === 'twemproxy' && b.pipeline === s.pipeline && b.test === s.test);
    if (base === undefined) continue;
    const r = s.rps / base.rps;
    lines.push(`- ${s.target} P${s.pipeline} ${s.test}: ${r.toFixed(2)}x twemproxy ${r >= TARGET_VS_TWEMPROXY ? 'meets' : 'misses'} the ${TARGET_VS_TWEMPROXY}x floor`);
  }
  return lines;
}

const rerun = `### How to rerun

\`\`\`sh
node_modules/.bin/node bench/memcached.ts          # full default run (suggested npm script: bench:memcached)
node_modules/.bin/node bench/memcached.ts --targets direct,twemproxy,dynoproxy-w1 --rounds 3 --requests 100000
node_modules/.bin/node bench/memcached.ts --report-only      # rewrite this block from bench/results/
\`\`\`

Each run adds a file to \`bench/results/\` and rewrites this block; the Notes section is kept. Other flags:
\`--clients N\`, \`--pipelines 1,16\`, \`--keys N\`, \`--value-size N\`, \`--client-threads N\`, \`--warmup N\`, \`--no-report\`.`;

export function renderMcBenchmarkReport(r: McResultsFile | undefined): string {
  const parts = ['## memcached: dynoproxy vs direct memcached vs twemproxy (same load client)', ''];
  if (r?.data.throughput === undefined) return [...parts, 'No results yet.', '', rerun].join('\n');
  const d = r.data;
  parts.push(...method(d), '', `Results: ${provenance(r)}.`, '');
  for (const pipeline of d.options.pipelines) {
    parts.push(`### Pipeline ${pipeline} (${d.options.clients} connections, ${int(d.options.requests)} requests per run)`, '', table(d.throughput!.summary, pipeline), '');
  }
  const lines = targetLines(d.throughput!.summary);
  if (lines.length > 0) parts.push('### Issue target (dynoproxy ≥ 0.8x twemproxy on the same run)', '', ...lines, '');
  const partial = Object.entries(d.throughput!.allWorkersListening).filter(([, ok]) => !ok);
  if (partial.length > 0) parts.push(`Warning: not every worker was listening when the runs began for ${partial.map(([t]) => t).join(', ')}.`, '');
  parts.push(rerun);
  return parts.join('\n');
}
