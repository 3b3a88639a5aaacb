// Tests that a launched server counts as ready only when its own process holds the port.
// Never leaves a child or listener open.
import t from 'tap';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { portListeners } from '../lib/proc-stats.ts';
import { ProcessGroup } from '../lib/process-group.ts';
import { assertServing, launchOnFreePort, startMemcached } from '../lib/server-launchers.ts';

// A child that listens with SO_REUSEPORT on the port given as argv[1], like a dynoproxy worker.
const listener = "const s = require('node:net').createServer(); s.listen({ host: '127.0.0.1', port: Number(process.argv[1]), reusePort: true }, () => console.log('up'))";

function listenReusePort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port, reusePort: true }, () => resolve(s));
  });
}

t.test('a server is ready only when it is the one listening', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const dir = t.testdir();
  const ports: number[] = [];
  const server = await launchOnFreePort({ group, dir }, 'child', 1, async (port) => {
    ports.push(port);
    return group.start({ name: 'child', command: process.execPath, args: ['-e', listener, String(port)], logPath: join(dir, `child-${port}.log`) });
  });
  t.equal(ports.length, 1);
  t.same(portListeners(server.process.pid, server.port), { own: 1, foreign: 0 });
  t.doesNotThrow(() => assertServing(server));

  // A stranger joining the port with SO_REUSEPORT would take a share of the clients.
  const stranger = await listenReusePort(server.port);
  t.same(portListeners(server.process.pid, server.port), { own: 1, foreign: 1 });
  t.throws(() => assertServing(server), /another process started listening/);
  await new Promise<void>((r) => stranger.close(() => r()));
});

t.test('a port taken between probe and bind is retried on a fresh port', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const dir = t.testdir();
  const ports: number[] = [];
  let stranger: Server | undefined;
  t.teardown(() => stranger?.close());
  const server = await launchOnFreePort({ group, dir }, 'child', 1, async (port) => {
    ports.push(port);
    // First attempt: someone else already listens there (and, with SO_REUSEPORT, our child could still bind).
    if (ports.length === 1) stranger = await listenReusePort(port);
    return group.start({ name: 'child', command: process.execPath, args: ['-e', listener, String(port)], logPath: join(dir, `child-${port}.log`) });
  });
  t.equal(ports.length, 2, 'second port used');
  t.not(server.port, ports[0]);
  t.same(portListeners(server.process.pid, server.port), { own: 1, foreign: 0 });
});

t.test('a bind failure that says EADDRINUSE is retried; other failures are not', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const dir = t.testdir();
  let attempts = 0;
  const server = await launchOnFreePort({ group, dir }, 'child', 1, async (port) => {
    attempts++;
    const args = attempts === 1 ? ['-e', "console.error('listen EADDRINUSE: address already in use'); process.exit(1)"] : ['-e', listener, String(port)];
    return group.start({ name: 'child', command: process.execPath, args, logPath: join(dir, `child-${attempts}.log`) });
  });
  t.equal(attempts, 2);
  t.ok(server.process.running);

  let failing = 0;
  await t.rejects(
    launchOnFreePort({ group, dir }, 'broken', 1, async () => {
      failing++;
      return group.start({ name: 'broken', command: process.execPath, args: ['-e', "console.error('bad config at line 3'); process.exit(2)"], logPath: join(dir, 'broken.log') });
    }),
    /broken exited before listening[\s\S]*bad config at line 3/,
  );
  t.equal(failing, 1, 'not retried');
});

t.test('memcached starts on loopback (as root too) and answers', async (t) => {
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const mc = await startMemcached({ group, dir: t.testdir() });
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: mc.host, port: mc.port }, () => s.write('version\r\n'));
    s.setEncoding('utf8');
    s.once('data', (d: string) => {
      s.destroy();
      resolve(d);
    });
    s.once('error', reject);
  });
  t.match(reply, /^VERSION \d/);
  await group.stopAll();
  t.notOk(mc.process.running);
});
