// Reads V8 .cpuprofile files (node --cpu-prof) and ranks functions by self time.
// Never modifies a profile; it only aggregates samples by function and source location.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  /** Function name (or V8's "(garbage collector)", "(program)", "(idle)"). */
  name: string;
  /** Source location relative to the repository, node:internal/..., or empty for V8 pseudo-frames. */
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) samples. */
  selfShare: number;
}

export interface ProfileSummary {
  file: string;
  /** Thread id from the file name: 0 is the main thread, 1.. the workers. */
  threadId: number;
  durationMs: number;
  busyMs: number;
  top: SelfTime[];
}

/** Self time per function, highest first. Sample time is each sample's own delta, so irregular sampling is weighted right. */
export function summarizeProfile(profile: CpuProfile, root: string, limit = 25): Omit<ProfileSummary, 'file' | 'threadId'> {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let idleUs = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    // The delta after a sample is the time it stands for; the last one gets the mean.
    const dt = profile.timeDeltas[i + 1] ?? (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
    totalUs += dt;
    if (node === undefined) continue;
    const cf = node.callFrame;
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
    if (name === '(idle)') {
      idleUs += dt;
      continue;
    }
    let where = cf.url;
    if (where.startsWith('file://')) where = relative(root, where.slice('file://'.length));
    if (where !== '') where = `${where}:${cf.lineNumber + 1}`;
    const key = `${name}\u0000${where}`;
    const entry = selfUs.get(key);
    if (entry === undefined) selfUs.set(key, { name, where, us: dt });
    else entry.us += dt;
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.us / 100) / 10, selfShare: e.us / busyUs }));
  return { durationMs: Math.round(totalUs / 1000), busyMs: Math.round(busyUs / 1000), top };
}

/** Every .cpuprofile in dir, main thread first. */
export function summarizeProfileDir(dir: string, root: string, limit = 25): ProfileSummary[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => {
      // CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile
      const threadId = Number(basename(f).split('.')[4] ?? Number.NaN);
      const profile = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
      return { file: join(dir, f), threadId, ...summarizeProfile(profile, root, limit) };
    })
    .sort((a, b) => a.threadId - b.threadId);
}
