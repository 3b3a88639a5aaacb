// Tests of child-process lifecycle with real redis-server, nutcracker and redis-benchmark.
// Never leaves a child running: each test stops its group.
import t from 'tap';
import { join } from 'node:path';
import { ProcessGroup } from '../lib/process-group.ts';
import { readCpuTicks } from '../lib/proc-stats.ts';
import { parseRedisBenchmarkCsv } from '../lib/redis-benchmark-csv.ts';
import { startRedisServer, startTwemproxy } from '../lib/server-launchers.ts';
import { waitForPort, waitUntil } from '../lib/wait-for-port.ts';
import { freePort } from '../lib/free-port.ts';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('redis-server and nutcracker start, serve redis-benchmark, and are all stopped', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const ctx = { group, dir: t.testdir() };
  const redis = await startRedisServer(ctx);
  const twem = await startTwemproxy(ctx, [redis]);
  t.ok(redis.process.running && twem.process.running);

  const args = ['-h', twem.host, '-p', String(twem.port), '-t', 'set,get', '-c', '10', '-n', '20000', '-P', '16', '-q', '--csv'];
  const { stdout } = await group.run({ name: 'redis-benchmark', command: 'redis-benchmark', args }, 30_000);
  const rows = parseRedisBenchmarkCsv(stdout);
  t.same(rows.map((r) => r.test), ['SET', 'GET']);
  t.ok(rows.every((r) => r.rps > 0));
  // The requests went through nutcracker to this very Redis.
  const info = await group.run({ name: 'redis-cli', command: 'redis-cli', args: ['-p', String(redis.port), 'INFO', 'commandstats'] }, 5000);
  const setCalls = Number(/cmdstat_set:calls=(\d+)/.exec(info.stdout)?.[1]);
  t.ok(setCalls >= 20000, `redis saw ${setCalls} SETs`);
  t.ok(readCpuTicks(redis.process.pid) > 0);

  const pids = [redis.process.pid, twem.process.pid];
  await group.stopAll();
  t.same(pids.map(isAlive), [false, false], 'every child stopped');
});

t.test('a tool that outlives its timeout is killed and reported', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const started = Date.now();
  await t.rejects(group.run({ name: 'sleeper', command: 'sleep', args: ['30'] }, 300), /did not finish within 300 ms/);
  t.ok(Date.now() - started < 5000);
});

t.test('a non-zero exit is an error carrying stderr', async (t) => {
  const group = new ProcessGroup();
  await t.rejects(group.run({ name: 'sh', command: 'sh', args: ['-c', 'echo broken >&2; exit 3'] }, 5000), /exited with 3:\nbroken/);
});

t.test('waitForPort fails fast with the log when the server dies', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const dir = t.testdir();
  const proc = group.start({ name: 'doomed', command: 'sh', args: ['-c', 'echo "bad config line 3" >&2; exit 1'], logPath: join(dir, 'doomed.log') });
  const port = await freePort();
  await t.rejects(waitForPort('127.0.0.1', port, { deadlineMs: 10_000, process: proc }), /doomed exited before listening[\s\S]*bad config line 3/);
});

t.test('SIGTERM-resistant children are killed after the grace period', async (t) => {
  const group = new ProcessGroup();
  const dir = t.testdir();
  // One process, no grandchildren: a SIGKILL leaves nothing behind.
  const script = "process.on('SIGTERM', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000)";
  const logPath = join(dir, 'stubborn.log');
  const proc = group.start({ name: 'stubborn', command: process.execPath, args: ['-e', script], logPath });
  await waitUntil(() => proc.logTail().includes('ready'), 5000);
  const exit = await proc.stop(300);
  t.equal(exit.signal, 'SIGKILL');
  t.match(proc.logTail(), /ignored/, 'SIGTERM was tried first');
  t.notOk(isAlive(proc.pid));
});
