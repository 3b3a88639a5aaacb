// Raises this process's open-file soft limit by re-executing it under `bash -c 'ulimit -n ...'`.
// Never loops: a marker variable stops a second re-exec, and the hard limit is never exceeded.
import { readOpenFileLimit } from './proc-stats.ts';

const marker = 'DYNOPROXY_BENCH_FD_LIMIT_RAISED';

/**
 * Ensures the soft limit is at least `wanted` (capped at the hard limit, since raising the hard
 * limit needs privileges the bench should not assume). Children inherit the new limit. Returns
 * the soft limit now in effect; when a re-exec happens this function does not return.
 */
export function ensureOpenFileLimit(wanted: number): number {
  const { soft, hard } = readOpenFileLimit();
  const target = Math.min(wanted, hard);
  if (soft >= target || process.env[marker] === '1') return soft;
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `ulimit -n ${Number.isFinite(target) ? target : 'unlimited'} && exec ${quoted}`;
  // execve keeps the pid, so whoever started us (a shell, CI) still waits on the same process.
  process.execve!('/bin/bash', ['bash', '-c', script], { ...process.env, [marker]: '1' });
  return soft;
}
