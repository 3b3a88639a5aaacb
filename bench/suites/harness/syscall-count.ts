// Counts a process's system calls per request with `strace -c -f` attached for one load run.
// Never leaves strace attached: it is stopped (and detaches) before this returns, even when the run fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessGroup } from '../../lib/process-group.ts';

export interface SyscallCount {
  name: string;
  calls: number;
  perRequest: number;
}

/** Rows of `strace -c` output: "% time  seconds  usecs/call  calls  errors syscall". */
export function parseStraceSummary(text: string): { name: string; calls: number }[] {
  const rows: { name: string; calls: number }[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5 || !/^\d+\.\d+$/.test(cols[0]!) || cols[cols.length - 1] === 'total') continue;
    // errors is blank when none failed, so the call count is the 4th column either way.
    const calls = Number(cols[3]);
    if (Number.isFinite(calls)) rows.push({ name: cols[cols.length - 1]!, calls });
  }
  return rows;
}

/** Runs `load` with strace counting the syscalls of pid (all threads); returns them per request, most first. */
export async function countSyscalls(
  group: ProcessGroup,
  dir: string,
  label: string,
  pid: number,
  load: () => Promise<number>,
): Promise<{ requests: number; total: number; perRequest: number; top: SyscallCount[] }> {
  const out = join(dir, `${label}.strace`);
  const strace = group.start({ name: `strace-${label}`, command: 'strace', args: ['-c', '-f', '-q', '-o', out, '-p', String(pid)], logPath: join(dir, `${label}.strace.log`) });
  let requests = 0;
  try {
    // Attaching to every thread takes a moment; requests before it would go uncounted.
    await sleep(500);
    if (!strace.running) throw new Error(`strace did not attach: ${strace.logTail()}`);
    requests = await load();
  } finally {
    // SIGTERM makes strace detach and write its summary.
    await strace.stop(5000);
  }
  const rows = parseStraceSummary(readFileSync(out, 'utf8'));
  const total = rows.reduce((s, r) => s + r.calls, 0);
  const top = rows
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 8)
    .map((r) => ({ name: r.name, calls: r.calls, perRequest: r.calls / Math.max(1, requests) }));
  return { requests, total, perRequest: total / Math.max(1, requests), top };
}
