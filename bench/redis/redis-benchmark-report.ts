// Renders the redis-benchmark block of BENCHMARKS.md from results files.
// Never measures anything and never reads anything but the results it is given.
import { markdownTable } from '../lib/benchmarks-doc.ts';
import type { IdleResult, RedisBenchmarkResults, ThroughputSummary } from './result-types.ts';

export interface ResultsFile {
  /** File name inside bench/results/. */
  file: string;
  data: RedisBenchmarkResults;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | null | undefined, digits: number): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
const mib = (kb: number | null): string => (kb === null ? '–' : (kb / 1024).toFixed(1));

function provenance(r: ResultsFile): string {
  const d = r.data;
  const when = d.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const dirty = d.git.dirty ? ' with uncommitted changes' : '';
  return `\`bench/results/${r.file}\` (${when}, commit \`${d.git.commit.slice(0, 10)}\`${dirty})`;
}

function machineSection(d: RedisBenchmarkResults): string {
  const m = d.machine;
  const versions = Object.entries(d.versions).map(([tool, v]) => `${tool}: ${v}`).join('; ');
  return [
    '### Machine',
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} logical cores; ${Math.round(m.memoryMiB / 1024)} GiB RAM; Linux ${m.kernel}`,
    `- ${versions}`,
  ].join('\n');
}

function methodSection(d: RedisBenchmarkResults): string {
  const o = d.options;
  const t = d.throughput;
  return [
    '### Method',
    '',
    `- One \`redis-server --save '' --appendonly no\` on loopback; nutcracker (ketama, fnv1a_64) and dynoproxy`,
    '  (1 and 2 data workers) each in front of that same server. Client, proxies and Redis share the',
    `  machine's ${d.machine.cores} cores, so the figures compare targets; they are not capacity.`,
    `- Every measured run is one redis-benchmark invocation, one test at a time, SET before GET:`,
    `  \`${t?.redisBenchmarkCommand ?? 'redis-benchmark ...'}\``,
    `- Interleaved: each round runs every target before the next round starts; ${o.rounds} rounds per pipeline`,
    '  depth, after an unmeasured warm-up. rps is the median over rounds; (n%) after it is the spread,',
    '  (max − min) / median.',
    '- CPU µs/request: utime + stime of the whole process (all threads) from `/proc/<pid>/stat`, read',
    '  right before and after each run, pooled over the rounds (sum of CPU / sum of requests), so the',
    `  1/${d.clockTicksPerSecond} s tick averages out. It includes each run's connection setup.`,
    '  "redis CPU" is Redis\'s own cost per request behind that target: batching in a proxy lowers it.',
    '  "client CPU" is redis-benchmark\'s (a reaped child\'s utime + stime); "chain CPU" is client + proxy + Redis.',
    '  With all three on the same cores, the ratio of two targets\' throughput follows the inverse ratio of',
    '  their chain CPU: that is the bound a proxy meets here, whatever it does with its own share.',
    '- RSS: the largest VmRSS of the proxy read after any run.',
    '- "other load": median share of all cores that processes outside the benchmark (other engineers\'',
    '  builds, tests) used during the runs, from `/proc/stat`. Above a few percent, treat the row as noisy.',
    ...(o.quiet === undefined || o.quiet.perRunMs === 0
      ? []
      : [
          `- Before each run the runner waited up to ${o.quiet.perRunMs / 1000} s (${o.quiet.totalMs / 1000} s in all) for that load to`,
          `  fall to ${Math.round(o.quiet.threshold * 100)}% of all cores; it waited ${((t?.runs.reduce((s, r) => s + (r.quietWaitMs ?? 0), 0) ?? 0) / 1000).toFixed(0)} s in all.`,
        ]),
    `- Produced by: \`${d.command}\``,
  ].join('\n');
}

/** CPU of every process a request passes through: client + proxy + Redis. */
function chainCpu(s: ThroughputSummary | undefined): number | undefined {
  if (s === undefined) return undefined;
  return s.clientCpuUsPerRequest + (s.proxyCpuUsPerRequest ?? 0) + s.redisCpuUsPerRequest;
}

function pair(get: number | null | undefined, set: number | null | undefined, digits: number): string {
  return `${fixed(get, digits)} / ${fixed(set, digits)}`;
}

function pipelineTable(summary: readonly ThroughputSummary[], pipeline: number): string {
  const rows = summary.filter((s) => s.pipeline === pipeline);
  const find = (target: string, test: string): ThroughputSummary | undefined =>
    rows.find((s) => s.target === target && s.test === test);
  const targets = [...new Set(rows.map((s) => s.target))];
  const hasDirect = targets.includes('direct');
  const hasTwemproxy = targets.includes('twemproxy');
  const header = ['target', 'GET rps', 'SET rps'];
  if (hasDirect) header.push('vs direct GET / SET');
  if (hasTwemproxy) header.push('vs twemproxy GET / SET');
  header.push('proxy CPU µs/req GET / SET', 'redis CPU µs/req GET / SET', 'client CPU µs/req GET / SET', 'chain CPU µs/req GET / SET', 'proxy RSS MiB', 'p50 / p99 ms GET', 'other load % GET / SET');
  const ratio = (target: string, base: string, test: string): number | undefined => {
    const a = find(target, test);
    const b = find(base, test);
    return a === undefined || b === undefined ? undefined : a.rps / b.rps;
  };
  const body = targets.map((target) => {
    const get = find(target, 'GET');
    const set = find(target, 'SET');
    const rps = (s: ThroughputSummary | undefined): string =>
      s === undefined ? '–' : `${int(s.rps)} (${Math.round(s.rpsSpread * 100)}%)`;
    const cells = [target, rps(get), rps(set)];
    if (hasDirect) cells.push(pair(ratio(target, 'direct', 'GET'), ratio(target, 'direct', 'SET'), 2));
    if (hasTwemproxy) cells.push(pair(ratio(target, 'twemproxy', 'GET'), ratio(target, 'twemproxy', 'SET'), 2));
    const rss = Math.max(get?.proxyRssKb ?? -1, set?.proxyRssKb ?? -1);
    cells.push(
      pair(get?.proxyCpuUsPerRequest, set?.proxyCpuUsPerRequest, 2),
      pair(get?.redisCpuUsPerRequest, set?.redisCpuUsPerRequest, 2),
      pair(get?.clientCpuUsPerRequest, set?.clientCpuUsPerRequest, 2),
      pair(chainCpu(get), chainCpu(set), 2),
      rss < 0 ? '–' : mib(rss),
      pair(get?.p50LatencyMs, get?.p99LatencyMs, 3),
      pair(get === undefined ? undefined : get.otherLoad * 100, set === undefined ? undefined : set.otherLoad * 100, 0),
    );
    return cells;
  });
  return markdownTable(header, body, header.map((_, i) => (i === 0 ? 'l' : 'r')));
}

function idleTable(results: readonly IdleResult[], connections: number): string {
  const header = ['target', 'workers', 'RSS idle MiB', `RSS with ${int(connections)} conns MiB`, 'delta MiB', 'delta per worker MiB', 'per connection KiB', 'accepted / failed / closed'];
  const body = results.map((r) => {
    const delta = r.rssAfterKb - r.rssBeforeKb;
    return [
      r.target,
      String(r.workers),
      mib(r.rssBeforeKb),
      mib(r.rssAfterKb),
      mib(delta),
      mib(delta / r.workers),
      (delta / Math.max(1, r.accepted)).toFixed(2),
      `${int(r.accepted)} / ${int(r.failed)} / ${int(r.closedByPeer)}`,
    ];
  });
  return markdownTable(header, body, header.map((_, i) => (i === 0 ? 'l' : 'r')));
}

const rerun = `### How to rerun

\`\`\`sh
npm run bench:redis                              # full default run: 5 rounds, 4 targets, P1 and P16, idle 10000
node_modules/.bin/node bench/redis-benchmark.ts --targets direct,twemproxy --rounds 3 --requests 100000
node_modules/.bin/node bench/redis-benchmark.ts --rounds 0 --idle 10000      # idle connections only
node_modules/.bin/node bench/redis-benchmark.ts --report-only                # rewrite this block from bench/results/
\`\`\`

Each run adds a file to \`bench/results/\` (commit it with the change it measures) and rewrites the
generated block above; the Notes section is kept. Other flags: \`--clients N\`, \`--pipelines 1,16\`,
\`--warmup N\`, \`--no-report\`. Run on an otherwise idle machine: other load moves the figures.`;

/** The markdown body of the block; either result may be absent if no run has produced it yet. */
export function renderRedisBenchmarkReport(throughput: ResultsFile | undefined, idle: ResultsFile | undefined): string {
  const parts: string[] = ['## Redis: dynoproxy vs direct Redis vs twemproxy (redis-benchmark)', ''];
  const main = throughput ?? idle;
  if (main === undefined) {
    parts.push('No results yet.', '', rerun);
    return parts.join('\n');
  }
  parts.push(machineSection(main.data), '', methodSection(main.data), '');
  if (throughput?.data.throughput !== undefined) {
    parts.push(`Throughput results: ${provenance(throughput)}.`, '');
    for (const pipeline of throughput.data.options.pipelines) {
      parts.push(`### Pipeline ${pipeline} (${throughput.data.options.clients} clients, ${int(throughput.data.options.requests)} requests per run)`, '');
      parts.push(pipelineTable(throughput.data.throughput.summary, pipeline), '');
    }
    const partial = Object.entries(throughput.data.throughput.allWorkersListening).filter(([, ok]) => !ok);
    if (partial.length > 0) {
      parts.push(`Warning: not every worker was listening when the runs began for ${partial.map(([t]) => t).join(', ')}.`, '');
    }
  }
  if (idle?.data.idle !== undefined) {
    const i = idle.data.idle;
    parts.push(
      `### Idle connections (${int(i.connections)})`,
      '',
      `Results: ${provenance(idle)}. A fresh server per target; RSS read once it stops moving, before and after`,
      `${int(i.connections)} connections that send nothing; "accepted" counts the server's new file descriptors.`,
      '',
      idleTable(i.results, i.connections),
      '',
    );
  }
  parts.push(rerun);
  return parts.join('\n');
}
