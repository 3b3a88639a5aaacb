// Tests of the load generator against real redis-server and memcached on loopback: counts, bounds, open-loop pacing,
// and coordinated-omission correction (the server is frozen with SIGSTOP mid-run). Every server started is stopped.
import t from 'tap';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadGenerator } from '../load-generator.ts';
import { fillKeys } from '../fill-keys.ts';
import type { Workload } from '../load-spec.ts';
import { ProcessGroup } from '../../lib/process-group.ts';
import { startMemcached, startRedisServer } from '../../lib/server-launchers.ts';
import type { RunningServer } from '../../lib/server-launchers.ts';

const dir = mkdtempSync(join(tmpdir(), 'loadgen-test-'));
const group = new ProcessGroup();
const gen = new LoadGenerator(2);
t.teardown(async () => {
  await gen.close();
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** One request/response on a fresh connection (for INFO / stats). */
function ask(server: RunningServer, request: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: server.host, port: server.port });
    let text = '';
    const timer = setTimeout(() => (s.destroy(), reject(new Error('no answer'))), 5000);
    s.on('error', reject);
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (until.test(text)) {
        clearTimeout(timer);
        s.destroy();
        resolve(text);
      }
    });
    s.write(request);
  });
}

async function redisCommands(server: RunningServer, command: string): Promise<number> {
  const info = await ask(server, 'INFO commandstats\r\n', /\r\n\r\n$|cmdstat_info/);
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

const resp = (command: Workload['command'], valueBytes = 64): Workload => ({ protocol: 'resp', command, valueBytes, keyCount: 200, keyPrefix: `t${valueBytes}`, mgetKeys: 10 });

t.test('redis', async (t) => {
  const redis = await startRedisServer({ group, dir });
  const base = { host: redis.host, port: redis.port, mode: 'closed' as const, warmupMs: 50, durationMs: 400 };

  await t.test('closed loop: every counted reply is a command Redis ran', async (t) => {
    await fillKeys(redis.host, redis.port, resp('get'));
    const before = await redisCommands(redis, 'get');
    const r = await gen.run({ ...base, workload: resp('get'), connections: 8, pipeline: 4 });
    const after = await redisCommands(redis, 'get');
    t.equal(r.threads, 2);
    t.equal(r.errorReplies, 0);
    t.equal(r.connectionErrors, 0);
    t.ok(r.ops > 100, `${r.ops} replies counted`);
    t.equal(r.latencyUs.count, r.ops, 'one latency sample per counted reply');
    t.ok(after - before >= r.ops, `Redis ran ${after - before} GETs, at least the ${r.ops} counted`);
    t.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.p99 && r.latencyUs.p99 <= r.latencyUs.max);
    t.ok(r.opsPerSec > 0 && Math.abs(r.opsPerSec - (r.ops * 1000) / r.elapsedMs) / r.opsPerSec < 0.2, 'rate matches count over window');
  });

  await t.test('closed loop stops at its count bound', async (t) => {
    const r = await gen.run({ ...base, workload: resp('set', 4096), connections: 4, pipeline: 16, durationMs: 5000, maxRequests: 2000 });
    t.ok(r.endedBy.every((e) => e === 'count'), `ended by ${r.endedBy.join(',')}`);
    t.ok(r.elapsedMs < 4000, `window ${r.elapsedMs} ms`);
    t.ok(r.ops >= 2000 && r.ops < 2000 + 4 * 16 * 2, `${r.ops} replies`);
  });

  await t.test('MGET replies count once per request', async (t) => {
    const before = await redisCommands(redis, 'mget');
    const r = await gen.run({ ...base, workload: resp('mget'), connections: 2, pipeline: 1 });
    const after = await redisCommands(redis, 'mget');
    // Counting each element of the 10-element reply would give ~10x Redis's count; the warm-up runs some uncounted.
    t.ok(r.ops > 0 && after - before >= r.ops && after - before < r.ops * 2, `counted ${r.ops}, Redis ran ${after - before}`);
  });

  await t.test('open loop keeps its rate', async (t) => {
    const r = await gen.run({ ...base, workload: resp('get'), connections: 10, pipeline: 8, mode: 'open', ratePerSec: 2000, durationMs: 1000 });
    t.ok(Math.abs(r.ops - 2000) <= 200, `${r.ops} replies for 2000 intended`);
    t.ok(r.sendLagUs !== null && r.serviceLatencyUs !== null);
    const onReplies = await gen.run({ ...base, workload: resp('get'), connections: 10, pipeline: 8, mode: 'open', ratePerSec: 2000, durationMs: 1000, pacingUs: 0 });
    t.ok(Math.abs(onReplies.ops - 2000) <= 200, `sending on replies and timers: ${onReplies.ops} replies for 2000 intended`);
  });

  await t.test('open loop counts a stall for every request scheduled behind it; closed loop does not', async (t) => {
    const freeze = (ms: number): void => {
      setTimeout(() => {
        process.kill(redis.process.pid, 'SIGSTOP');
        setTimeout(() => process.kill(redis.process.pid, 'SIGCONT'), ms);
      }, 450);
    };
    freeze(300);
    const open = await gen.run({ ...base, workload: resp('get'), connections: 4, pipeline: 8, mode: 'open', ratePerSec: 1000, warmupMs: 100, durationMs: 1000 });
    freeze(300);
    const closed = await gen.run({ ...base, workload: resp('get'), connections: 4, pipeline: 1, warmupMs: 100, durationMs: 1000 });
    // ~300 of ~1000 intended requests fall in the stall, waiting up to 300 ms each: the top 10% all waited > 100 ms.
    t.ok(open.latencyUs.p90 > 100_000, `open loop p90 ${open.latencyUs.p90} µs`);
    t.ok(open.latencyUs.max >= 250_000, `open loop max ${open.latencyUs.max} µs`);
    // A closed loop stops sending during the stall: 4 slow samples among many fast ones.
    t.ok(closed.latencyUs.max >= 250_000, `closed loop saw the stall (max ${closed.latencyUs.max} µs)`);
    t.ok(closed.latencyUs.p90 < 50_000, `closed loop p90 ${closed.latencyUs.p90} µs hides it`);
  });

  await t.test('a run against a closed port fails instead of measuring nothing', async (t) => {
    await t.rejects(gen.run({ ...base, port: 1, workload: resp('get'), connections: 2, pipeline: 1, connectTimeoutMs: 1000 }), /did not start/);
  });

  await redis.process.stop();
});

t.test('memcached', async (t) => {
  const mc = await startMemcached({ group, dir });
  const w: Workload = { protocol: 'memcache', command: 'get', valueBytes: 100, keyCount: 100, keyPrefix: 'mc', mgetKeys: 10 };
  await fillKeys(mc.host, mc.port, w);
  const stats = async (): Promise<{ hits: number; sets: number }> => {
    const text = await ask(mc, 'stats\r\n', /END\r\n$/);
    return { hits: Number(/STAT get_hits (\d+)/.exec(text)?.[1]), sets: Number(/STAT cmd_set (\d+)/.exec(text)?.[1]) };
  };
  const before = await stats();
  const gets = await gen.run({ host: mc.host, port: mc.port, workload: w, connections: 4, pipeline: 8, mode: 'closed', warmupMs: 50, durationMs: 300 });
  const sets = await gen.run({ host: mc.host, port: mc.port, workload: { ...w, command: 'set' }, connections: 4, pipeline: 8, mode: 'closed', warmupMs: 50, durationMs: 300 });
  const multi = await gen.run({ host: mc.host, port: mc.port, workload: { ...w, command: 'mget' }, connections: 2, pipeline: 1, mode: 'closed', warmupMs: 50, durationMs: 300 });
  const after = await stats();
  for (const r of [gets, sets, multi]) t.ok(r.ops > 0 && r.errorReplies === 0 && r.connectionErrors === 0);
  t.ok(after.hits - before.hits >= gets.ops + multi.ops * 10, `hits ${after.hits - before.hits} for ${gets.ops} gets and ${multi.ops} 10-key gets`);
  t.ok(after.sets - before.sets >= sets.ops, `sets ${after.sets - before.sets} for ${sets.ops} counted`);
  await mc.process.stop();
});
