// Describes the machine and tool versions a benchmark ran on, for the results file and report.
// Never fails a benchmark over a missing tool: an absent version reads "not found".
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs this process may run on. */
  cores: number;
  kernel: string;
  memoryMiB: number;
  nodeVersion: string;
}

export function describeMachine(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match !== null) cpuModel = match[1]!.trim();
  } catch {
    // cpus() above is the fallback.
  }
  return {
    cpuModel,
    cores: availableParallelism(),
    kernel: release(),
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    nodeVersion: process.version,
  };
}

/** First non-empty line a tool prints for its version flag, on stdout or else stderr (nutcracker uses stderr). */
export function toolVersion(command: string, args: readonly string[] = ['--version']): string {
  const out = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  if (out.error !== undefined) return (out.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'unknown';
  const firstLine = (text: string | null): string | undefined => text?.split('\n').find((l) => l.trim() !== '')?.trim();
  return firstLine(out.stdout) ?? firstLine(out.stderr) ?? 'unknown';
}
