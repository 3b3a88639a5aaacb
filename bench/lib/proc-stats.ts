// Readers of Linux /proc for a process's CPU time, memory, open files and limits.
// Never writes anything and never reads more than the few small files it names.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let cachedClockTicks = 0;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (cachedClockTicks === 0) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const ticks = Number(text);
    if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK returned ${JSON.stringify(text)}`);
    cachedClockTicks = ticks;
  }
  return cachedClockTicks;
}

/**
 * utime + stime of the whole process (every thread, live or exited) in clock ticks.
 * The command name may contain spaces and parentheses, so fields are counted after the last ')'.
 */
export function readCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) " the state is field 3; utime and stime are fields 14 and 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return utime + stime;
}

/**
 * CPU ticks of children this process has already waited for (cutime + cstime), e.g. a finished
 * redis-benchmark: its own /proc entry is gone by then, but the kernel adds its time to its parent's.
 */
export function readReapedChildrenCpuTicks(pid: number | 'self' = 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[16 - 3]) + Number(fields[17 - 3]);
}

export interface SystemCpuTicks {
  /**
   * Ticks all CPUs spent in processes (user, nice, system) or stolen by the hypervisor. Interrupt
   * time is left out: without IRQ_TIME_ACCOUNTING the kernel charges softirq ticks (loopback TCP
   * is mostly softirq) to no process, so counting it would make our own traffic look like others'.
   */
  busy: number;
  /** irq + softirq ticks. */
  interrupts: number;
  /** All ticks of all CPUs, busy, interrupt or idle. */
  total: number;
}

/** Machine-wide CPU time from the first line of /proc/stat, to see load from processes we did not start. */
export function readSystemCpuTicks(): SystemCpuTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const busy = user! + nice! + system! + steal!;
  const interrupts = irq! + softirq!;
  return { busy, interrupts, total: busy + interrupts + idle! + iowait! };
}

function readStatusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Resident set size now, in KiB. */
export function readRssKb(pid: number): number {
  return readStatusKb(pid, 'VmRSS');
}

/** Peak resident set size since the process started, in KiB. */
export function readPeakRssKb(pid: number): number {
  return readStatusKb(pid, 'VmHWM');
}

export function countOpenFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function countThreads(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

export interface FileLimit {
  soft: number;
  hard: number;
}

/** "Max open files" of a process; 'unlimited' reads as Infinity. */
export function readOpenFileLimit(pid: number | 'self' = 'self'): FileLimit {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (match === null) throw new Error(`no "Max open files" in /proc/${pid}/limits`);
  const parse = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: parse(match[1]!), hard: parse(match[2]!) };
}

/** Inodes of sockets in LISTEN state on a local TCP port (one per SO_REUSEPORT listener), from /proc/net/tcp{,6}. */
export function tcpListenerInodes(port: number): number[] {
  const inodes: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue;
      const local = cols[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.push(Number(cols[9]));
    }
  }
  return inodes;
}

export function countTcpListeners(port: number): number {
  return tcpListenerInodes(port).length;
}

/** Inodes of the sockets a process holds open. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while we looked
    }
    if (target.startsWith('socket:[')) inodes.add(Number(target.slice(8, -1)));
  }
  return inodes;
}

export interface PortListeners {
  /** LISTEN sockets on the port held by the process. */
  own: number;
  /** LISTEN sockets on the port held by anyone else (SO_REUSEPORT lets a same-user process share it). */
  foreign: number;
}

/** Who listens on a port: ours or someone else's, so a benchmark never measures a stranger's server. */
export function portListeners(pid: number, port: number): PortListeners {
  const listeners = tcpListenerInodes(port);
  if (listeners.length === 0) return { own: 0, foreign: 0 };
  const mine = socketInodes(pid);
  const own = listeners.filter((inode) => mine.has(inode)).length;
  return { own, foreign: listeners.length - own };
}
