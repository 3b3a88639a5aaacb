// `npm run bench:micro`: runs every native-free-bench/*.bench.ts one after another, keeps their JSON lines as one
// results file and rewrites the "micro" block of BENCHMARKS.md. Never runs two at once, never past its time budget.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { markdownTable, replaceGeneratedSection } from '../bench/lib/benchmarks-doc.ts';
import { latestResult, writeResults } from '../bench/lib/results-store.ts';

const root = resolve(import.meta.dirname, '..');
const here = import.meta.dirname;
const resultsDir = join(root, 'bench', 'results');
const doc = join(root, 'BENCHMARKS.md');

interface BenchOutput {
  script: string;
  ok: boolean;
  elapsedMs: number;
  /** The script's last JSON line, as printed. */
  json: Record<string, unknown> | null;
  error?: string;
}

interface MicroResults {
  suite: 'micro';
  schema: 1;
  startedAt: string;
  finishedAt: string;
  machine: { cpuModel: string; cores: number; kernel: string; loadAverage: [number, number] };
  node: string;
  command: string;
  benches: BenchOutput[];
}

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: '' },
    budget: { type: 'string', default: '110' },
    'report-only': { type: 'boolean', default: false },
    'no-report': { type: 'boolean', default: false },
  },
});

function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // a table row that happens to start with a brace; keep looking
    }
  }
  return null;
}

function runAll(): MicroResults {
  const startedAt = new Date();
  const only = values.only.split(',').filter((s) => s !== '');
  const scripts = readdirSync(here).filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.startsWith(o)))).sort();
  const deadline = Date.now() + Number(values.budget) * 1000;
  const loadStart = loadavg()[0]!;
  const benches: BenchOutput[] = [];
  for (const script of scripts) {
    const left = deadline - Date.now();
    if (left < 5000) {
      benches.push({ script, ok: false, elapsedMs: 0, json: null, error: 'skipped: time budget spent' });
      continue;
    }
    process.stderr.write(`${script} ...\n`);
    const t0 = Date.now();
    const out = spawnSync(process.execPath, [join(here, script)], { cwd: root, encoding: 'utf8', timeout: Math.min(60_000, left), maxBuffer: 16 * 1024 * 1024 });
    const elapsedMs = Date.now() - t0;
    const json = out.stdout ? lastJsonLine(out.stdout) : null;
    const ok = out.status === 0 && json !== null;
    const error = ok ? undefined : out.error !== undefined ? out.error.message : `exit ${out.status ?? out.signal}: ${(out.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
    benches.push({ script, ok, elapsedMs, json, ...(error === undefined ? {} : { error }) });
    process.stderr.write(`${script}: ${ok ? 'ok' : `FAILED (${error})`} in ${(elapsedMs / 1000).toFixed(1)} s\n`);
    if (out.stdout) process.stdout.write(out.stdout.split('\n').filter((l) => !l.startsWith('{')).join('\n'));
  }
  return {
    suite: 'micro',
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpuModel: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), kernel: release(), loadAverage: [loadStart, loadavg()[0]!] },
    node: process.version,
    command: ['npm run bench:micro', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    benches,
  };
}

const cell = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US') : v === null || v === undefined ? '–' : String(v));

/** Array of flat records -> one row each; record of records (name -> column -> value) -> a pivot table. */
export function renderBenchTable(json: Record<string, unknown>): string {
  const results = json.results;
  if (Array.isArray(results) && results.length > 0) {
    const keys = Object.keys(results[0] as object);
    const rows = results.map((r) => keys.map((k) => cell((r as Record<string, unknown>)[k])));
    return markdownTable(keys, rows, keys.map((k) => (typeof (results[0] as Record<string, unknown>)[k] === 'number' ? 'r' : 'l')));
  }
  if (results !== null && typeof results === 'object') {
    const entries = Object.entries(results as Record<string, Record<string, unknown>>);
    const cols = [...new Set(entries.flatMap(([, v]) => Object.keys(v ?? {})))];
    const unit = typeof json.unit === 'string' ? ` (${json.unit})` : '';
    return markdownTable(['', ...cols.map((c) => `${c}${unit}`)], entries.map(([k, v]) => [k, ...cols.map((c) => cell(v?.[c]))]), ['l', ...cols.map(() => 'r' as const)]);
  }
  return '```json\n' + JSON.stringify(json).slice(0, 2000) + '\n```';
}

function render(file: string, d: MicroResults): string {
  const when = d.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const sections = d.benches.flatMap((b) => {
    const head = `### ${b.script}${b.json?.unit !== undefined ? ` (${String(b.json.unit)})` : ''}`;
    if (!b.ok || b.json === null) return [head, '', `Not measured: ${b.error ?? 'no JSON line'}.`, ''];
    const extra = Array.isArray(b.json.skipped) && b.json.skipped.length > 0 ? [`Skipped: ${(b.json.skipped as string[]).join(', ')}.`, ''] : [];
    return [head, '', renderBenchTable(b.json), '', ...extra];
  });
  return [
    '## Micro-benchmarks of the pure hot modules (native-free-bench/)',
    '',
    `Results: \`bench/results/${file}\` (${when}; node ${d.node}; ${d.machine.cpuModel}, ${d.machine.cores} cores; load average ${d.machine.loadAverage[0].toFixed(1)} at start, ${d.machine.loadAverage[1].toFixed(1)} at end).`,
    '',
    '- Each `native-free-bench/*.bench.ts` runs alone in its own process (no servers, no addons) and prints one JSON',
    '  line; `npm run bench:micro` runs them one after another within a time budget and keeps those lines.',
    '- The machine is shared: a load average above its core count means other engineers\' work ran meanwhile, so',
    '  read the tables for proportions (size sweeps, ours vs redis-parser) more than for absolute figures.',
    `- Produced by: \`${d.command}\`; \`--only resp,hash\` runs a subset, \`--report-only\` rewrites this block.`,
    '',
    ...sections,
  ].join('\n');
}

function rewriteBlock(): void {
  const latest = latestResult<MicroResults>(resultsDir, 'micro');
  if (latest === undefined) throw new Error('no micro results yet');
  let text: string | undefined;
  try {
    text = readFileSync(doc, 'utf8');
  } catch {
    text = undefined;
  }
  writeFileSync(doc, replaceGeneratedSection(text, 'micro', render(latest.file, latest.data)));
  process.stderr.write(`rewrote the micro block of BENCHMARKS.md from ${latest.file}\n`);
}

if (import.meta.main) {
  if (!values['report-only']) {
    const results = runAll();
    const path = writeResults(resultsDir, 'micro', new Date(results.startedAt), results);
    process.stderr.write(`wrote ${path}\n`);
    if (results.benches.some((b) => !b.ok)) process.exitCode = 1;
  }
  if (!values['no-report']) rewriteBlock();
}
