// Tests of the /proc readers on this very process and children it burns CPU in.
// Never spawns a child that outlives its test.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import {
  clockTicksPerSecond, countOpenFds, countTcpListeners, countThreads, readCpuTicks, readOpenFileLimit,
  readPeakRssKb, readReapedChildrenCpuTicks, readRssKb, readSystemCpuTicks,
} from '../lib/proc-stats.ts';
import { freePort } from '../lib/free-port.ts';

t.test('CPU ticks grow while this process burns CPU', async (t) => {
  const hz = clockTicksPerSecond();
  t.ok(hz >= 100, `CLK_TCK ${hz}`);
  const before = readCpuTicks(process.pid);
  const start = process.cpuUsage();
  let x = 0;
  while (process.cpuUsage(start).user + process.cpuUsage(start).system < 150_000) x += Math.sqrt(x + 1);
  const after = readCpuTicks(process.pid);
  // 150 ms of CPU is 15 ticks at 100 Hz; the kernel accounts ticks by sampling, so allow some slack.
  t.ok(after - before >= hz * 0.1, `grew by ${after - before} ticks (x=${x > 0})`);
});

t.test('a reaped child\'s CPU is added to its parent, and the machine\'s busy time covers it', async (t) => {
  const children = readReapedChildrenCpuTicks();
  const system = readSystemCpuTicks();
  // Burn CPU time, not wall time: on a shared machine the child may wait for a core.
  const burn = 'const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; }; while (cpu() < 200000);';
  spawnSync(process.execPath, ['-e', burn]);
  const childTicks = readReapedChildrenCpuTicks() - children;
  const after = readSystemCpuTicks();
  t.ok(childTicks >= clockTicksPerSecond() * 0.1, `child used ${childTicks} ticks`);
  // The kernel samples both by ticks on each CPU, from different counters: allow a couple of ticks (seen short by 1-2 in CI).
  const busy = after.busy - system.busy;
  t.ok(busy >= childTicks - Math.max(2, Math.ceil(childTicks * 0.1)), `machine busy time includes the child (${busy} busy ticks, child ${childTicks})`);
  t.ok(after.total - after.busy > 0 && after.total > system.total);
});

t.test('RSS agrees with what Node reports for itself', async (t) => {
  const rssKb = readRssKb(process.pid);
  const nodeKb = process.memoryUsage().rss / 1024;
  t.ok(Math.abs(rssKb - nodeKb) / nodeKb < 0.2, `${rssKb} kB vs ${Math.round(nodeKb)} kB`);
  t.ok(readPeakRssKb(process.pid) >= rssKb);
  t.ok(countThreads(process.pid) >= 1);
});

t.test('open fds and limits', async (t) => {
  const before = countOpenFds(process.pid);
  const fd = openSync('/proc/self/stat', 'r');
  t.equal(countOpenFds(process.pid), before + 1);
  closeSync(fd);
  const limit = readOpenFileLimit();
  t.ok(limit.soft > 0 && limit.soft <= limit.hard);
});

t.test('listening sockets counted per SO_REUSEPORT listener', async (t) => {
  const port = await freePort();
  t.equal(countTcpListeners(port), 0);
  const listen = (): Promise<Server> =>
    new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen({ host: '127.0.0.1', port, reusePort: true }, () => resolve(s));
    });
  const a = await listen();
  t.equal(countTcpListeners(port), 1);
  const b = await listen();
  t.equal(countTcpListeners(port), 2);
  await new Promise<void>((r) => a.close(() => r()));
  await new Promise<void>((r) => b.close(() => r()));
  t.equal(countTcpListeners(port), 0);
});

t.test('a missing process is an error, not a zero', async (t) => {
  t.throws(() => readCpuTicks(2 ** 22 + 12345));
  t.throws(() => readRssKb(2 ** 22 + 12345));
});
