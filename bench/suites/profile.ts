// Suite "profile": dynoproxy (1 worker) under GET load at pipeline 1 and 16 with node --cpu-prof; top self-time functions.
// Never profiles a proxy it did not start, and keeps the .cpuprofile files outside the repository.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { markdownTable } from '../lib/benchmarks-doc.ts';
import type { LaunchContext } from '../lib/server-launchers.ts';
import { repoRoot } from '../lib/server-launchers.ts';
import { fileStamp } from '../lib/results-store.ts';
import { summarizeProfileDir } from './harness/cpu-profile.ts';
import type { ProfileSummary } from './harness/cpu-profile.ts';
import { measureOnce, summarizeRecords } from './harness/rounds.ts';
import type { BenchSuite, SuiteContext, SuiteOutcome } from './harness/suite-api.ts';
import { closedScenario, fillForReads, selectScenarios } from './harness/suite-api.ts';
import { fixed, int, machineLine, provenance } from './harness/suite-report.ts';
import type { RunRecord, Scenario, SuiteResults } from './harness/suite-types.ts';
import { countSyscalls } from './harness/syscall-count.ts';
import type { SyscallCount } from './harness/syscall-count.ts';
import { parseTargets, startBackend, startDynoproxyWithNodeArgs, startTarget, stopTargets } from './harness/targets.ts';
import type { LiveTarget } from './harness/targets.ts';

export interface ProfiledScenario {
  scenario: string;
  opsPerSec: number;
  /** Where the .cpuprofile files are (open them in Chrome DevTools or speedscope for flame graphs). */
  dir: string;
  profiles: ProfileSummary[];
}

export interface SyscallRun {
  scenario: string;
  target: string;
  requests: number;
  perRequest: number;
  top: SyscallCount[];
}

/** Unprofiled proxies under strace -c for one run each: system calls per request, the cost DESIGN.md says dominates. */
async function syscallRuns(ctx: SuiteContext, launch: LaunchContext, backend: LiveTarget['server'], scenarios: readonly Scenario[]): Promise<SyscallRun[]> {
  const targets: LiveTarget[] = [];
  const out: SyscallRun[] = [];
  try {
    for (const spec of parseTargets('twemproxy,dynoproxy-w1')) targets.push(await startTarget(launch, spec, backend, 'redis'));
    for (const scenario of scenarios) {
      for (const target of targets) {
        const r = await countSyscalls(ctx.group, ctx.dir, `${target.spec.name}-${scenario.id}`, target.proxy!.process.pid, async () => {
          const { report } = await measureOnce(ctx.gen, target, backend, scenario, { warmupMs: 0, durationMs: 1500 });
          return report.ops;
        });
        ctx.log(`strace ${target.spec.name} ${scenario.id}: ${r.perRequest.toFixed(2)} syscalls/request (${r.top.slice(0, 4).map((c) => `${c.name} ${c.perRequest.toFixed(2)}`).join(', ')})`);
        out.push({ scenario: scenario.id, target: target.spec.name, requests: r.requests, perRequest: r.perRequest, top: r.top });
      }
    }
  } finally {
    await stopTargets(targets);
  }
  return out;
}

export const profileSuite: BenchSuite = {
  name: 'profile',
  description: 'node --cpu-prof of dynoproxy (1 worker) under GET 64 B at pipeline 1 and 16: top self-time functions per thread',
  defaults: { targets: 'dynoproxy-w1', rounds: 1, warmupMs: 500, durationMs: 4000 },
  async run(ctx: SuiteContext): Promise<SuiteOutcome> {
    const launch: LaunchContext = { group: ctx.group, dir: ctx.dir };
    const scenarios = selectScenarios([closedScenario('resp', 'get', 64, 1, 50), closedScenario('resp', 'get', 64, 16, 50)], ctx.options.only);
    const outDir = join(tmpdir(), 'dynoproxy-profiles', fileStamp(new Date()));
    const backend = await startBackend(launch, 'redis');
    const runs: RunRecord[] = [];
    const profiled: ProfiledScenario[] = [];
    let syscalls: SyscallRun[] = [];
    try {
      await fillForReads(backend, scenarios);
      syscalls = await syscallRuns(ctx, launch, backend, scenarios);
      for (const scenario of scenarios) {
        const dir = join(outDir, scenario.id);
        mkdirSync(dir, { recursive: true });
        const proxy = await startDynoproxyWithNodeArgs(launch, backend, 'redis', 1, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
        const target = { spec: { name: 'dynoproxy-w1', kind: 'dynoproxy' as const, workers: 1 }, server: proxy, proxy };
        try {
          const { report, before, after } = await measureOnce(ctx.gen, target, backend, scenario, ctx.options);
          runs.push({
            round: 1, scenario: scenario.id, target: 'dynoproxy-w1', ops: report.ops, opsPerSec: report.opsPerSec, elapsedMs: report.elapsedMs,
            latencyUs: report.latencyUs, serviceLatencyUs: null, sendLagUs: null, errorReplies: report.errorReplies,
            connectionErrors: report.connectionErrors, firstError: report.firstError, endedBy: report.endedBy, quietWaitMs: 0,
            proxyCpuTicks: after.proxy - before.proxy, backendCpuTicks: after.backend - before.backend, clientCpuTicks: after.self - before.self,
            otherCpuTicks: Math.max(0, after.busy - before.busy - (after.proxy - before.proxy) - (after.backend - before.backend) - (after.self - before.self)),
            machineCpuTicks: after.total - before.total, proxyRssKb: null,
          });
          ctx.log(`profiled ${scenario.id}: ${Math.round(report.opsPerSec)} ops/s`);
        } finally {
          // The profiles are written as each thread exits: a clean SIGTERM drain, not a kill.
          const exit = await proxy.process.stop(10_000);
          if (exit.signal === 'SIGKILL') ctx.log('warning: the proxy had to be killed; its profiles may be missing');
        }
        const profiles = summarizeProfileDir(dir, repoRoot, 20);
        for (const p of profiles) {
          ctx.log(`${scenario.id} thread ${p.threadId}: busy ${p.busyMs} ms of ${p.durationMs} ms; top: ${p.top.slice(0, 8).map((t) => `${t.name} ${(t.selfShare * 100).toFixed(1)}%`).join(', ')}`);
        }
        profiled.push({ scenario: scenario.id, opsPerSec: runs[runs.length - 1]!.opsPerSec, dir, profiles });
      }
    } finally {
      await backend.process.stop();
    }
    ctx.log(`profiles kept in ${outDir}`);
    return { backend: 'redis', scenarios, runs, summary: summarizeRecords(runs, ctx.clockTicks), findings: { profiled, syscalls } };
  },
  charts: () => ({}),
  render(file: string, d: SuiteResults): string {
    const { profiled, syscalls } = d.findings as { profiled: ProfiledScenario[]; syscalls?: SyscallRun[] };
    const syscallTable = syscalls === undefined || syscalls.length === 0 ? [] : [
      '### System calls per request (strace -c -f, one 1.5 s run each, unprofiled proxies)',
      '',
      'strace slows every call down, so throughput under it means nothing; the counts per request are what matter.',
      '',
      markdownTable(
        ['scenario', 'target', 'requests', 'syscalls/request', 'most frequent (per request)'],
        syscalls.map((r) => [r.scenario, r.target, int(r.requests), fixed(r.perRequest, 2), r.top.slice(0, 5).map((c) => `${c.name} ${fixed(c.perRequest, 2)}`).join(', ')]),
        ['l', 'l', 'r', 'r', 'l'],
      ),
      '',
    ];
    const sections = profiled.flatMap((p) => {
      const row = d.summary.find((r) => r.scenario === p.scenario);
      return p.profiles.filter((t) => t.threadId > 0 || p.profiles.length === 1).flatMap((t) => [
        `### ${p.scenario}, worker thread ${t.threadId}: ${int(p.opsPerSec)} ops/s, proxy CPU ${fixed(row?.proxyCpuUsPerRequest, 2)} µs/request`,
        '',
        `Busy ${t.busyMs} ms of ${t.durationMs} ms profiled (the rest idle). Self time, share of busy samples:`,
        '',
        markdownTable(['function', 'where', 'self ms', 'share'], t.top.slice(0, 15).map((e) => [`\`${e.name}\``, e.where === '' ? '' : `\`${e.where}\``, fixed(e.selfMs, 1), `${(e.selfShare * 100).toFixed(1)}%`]), ['l', 'l', 'r', 'r']),
        '',
      ]);
    });
    return [
      '## Profile: where dynoproxy spends its CPU (node --cpu-prof)',
      '',
      provenance(file, d),
      '',
      machineLine(d),
      `- dynoproxy with 1 data worker under node \`--cpu-prof\` in front of one Redis; closed-loop GET 64 B, 50 connections,`,
      `  ${d.options.warmupMs} ms warm-up and ${d.options.durationMs} ms measured; the profile spans the process's whole life.`,
      '  "(program)" is time in V8/libuv/native code outside JavaScript (syscalls included), "(garbage collector)" is GC.',
      `- Produced by: \`${d.command}\``,
      '',
      ...syscallTable,
      ...sections,
    ].join('\n');
  },
};
