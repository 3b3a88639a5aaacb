// Tests of the bounded wait for a quiet machine.
// Never waits unbounded, never leaves its CPU burner running.
import t from 'tap';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { median } from '../lib/median.ts';
import { waitForQuietMachine } from '../lib/quiet-machine.ts';

t.test('a threshold of 100% is met at once', async (t) => {
  const r = await waitForQuietMachine({ threshold: 1, maxWaitMs: 5000, windowMs: 50, ownPids: [] });
  t.equal(r.quiet, true);
  t.ok(r.waitedMs < 1000);
});

t.test('an unreachable threshold gives up after the budget', async (t) => {
  const started = Date.now();
  const r = await waitForQuietMachine({ threshold: -1, maxWaitMs: 300, windowMs: 50, ownPids: [] });
  t.equal(r.quiet, false);
  t.ok(Date.now() - started < 2000);
  t.ok(r.otherLoad >= 0 && r.otherLoad <= 1);
});

t.test('CPU burnt by our own processes is not counted as others', async (t) => {
  const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  t.teardown(() => {
    burner.kill('SIGKILL');
  });
  await new Promise((r) => setTimeout(r, 100));
  const own: number[] = [];
  const stranger: number[] = [];
  for (let i = 0; i < 3; i++) {
    own.push((await waitForQuietMachine({ threshold: -1, maxWaitMs: 0, windowMs: 200, ownPids: [burner.pid!] })).otherLoad);
    stranger.push((await waitForQuietMachine({ threshold: -1, maxWaitMs: 0, windowMs: 200, ownPids: [] })).otherLoad);
  }
  // One busy core out of the machine's cores counts only when the burner is not ours.
  t.ok(median(stranger) >= 0.4 / availableParallelism(), `burner seen as others: ${stranger.map((x) => x.toFixed(2))}`);
  t.ok(median(own) < median(stranger), `own ${own.map((x) => x.toFixed(2))} < stranger ${stranger.map((x) => x.toFixed(2))}`);
});
