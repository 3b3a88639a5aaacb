// Tests of the idle-connection opener against a real loopback server.
// Never leaves a socket or server open.
import t from 'tap';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { freePort } from '../lib/free-port.ts';
import { openIdleConnections } from '../lib/idle-connections.ts';
import { waitUntil } from '../lib/wait-for-port.ts';

t.test('opens the requested idle connections and closes them all', async (t) => {
  const accepted = new Set<Socket>();
  let bytes = 0;
  const server = createServer((s) => {
    accepted.add(s);
    s.on('data', (d) => (bytes += d.length));
    s.on('close', () => accepted.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;

  const idle = await openIdleConnections('127.0.0.1', port, 300, { concurrency: 40 });
  t.equal(idle.connected, 300);
  t.equal(idle.failed, 0);
  t.ok(await waitUntil(() => accepted.size === 300, 5000), `server holds ${accepted.size}`);
  t.equal(bytes, 0, 'idle means not a byte sent');

  // The server closing one is reported, so a proxy that drops idle clients cannot look cheap.
  [...accepted][0]!.destroy();
  t.ok(await waitUntil(() => idle.closedByPeer === 1, 5000), 'server-side close seen');

  await idle.closeAll();
  t.ok(await waitUntil(() => accepted.size === 0, 5000), 'all closed');
  t.equal(idle.closedByPeer, 1, 'our own closes are not counted as the peer closing');
});

t.test('refused connections are counted as failed with the reason', async (t) => {
  const port = await freePort();
  const idle = await openIdleConnections('127.0.0.1', port, 20, { concurrency: 5 });
  t.equal(idle.connected, 0);
  t.equal(idle.failed, 20);
  t.match(idle.firstError, /ECONNREFUSED/);
  await idle.closeAll();
});
