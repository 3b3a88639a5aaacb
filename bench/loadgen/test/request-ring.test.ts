// Tests of the prebuilt request ring: every window is contiguous, wraps around, and holds the requests in order.
// Never needs a server: the bytes are checked against the same builder and against the RESP request parser.
import t from 'tap';
import { buildRequest, RequestRing } from '../request-ring.ts';
import type { Workload } from '../load-spec.ts';
import { DEFAULT_RESP_LIMITS, RespRequestParser } from '../../../src/protocol/resp/index.ts';

const resp = (command: Workload['command']): Workload => ({ protocol: 'resp', command, valueBytes: 10, keyCount: 7, keyPrefix: 'p', mgetKeys: 3 });

t.test('windows are the concatenation of consecutive requests, across the wrap', async (t) => {
  const w = resp('set');
  const ring = new RequestRing(w, 4);
  for (let first = 0; first < 20; first++) {
    for (let n = 1; n <= 4; n++) {
      const expected = Buffer.concat(Array.from({ length: n }, (_, k) => buildRequest(w, (first + k) % 7)));
      if (!ring.run(first, n).equals(expected)) {
        t.fail(`window ${first} x ${n}`);
        return;
      }
    }
  }
  t.equal(ring.run(3, 4), ring.run(10, 4), 'a whole window is one cached view');
});

t.test('RESP requests parse as the commands they claim', async (t) => {
  const parser = new RespRequestParser(DEFAULT_RESP_LIMITS);
  for (const [command, argc] of [['get', 2], ['set', 3], ['mget', 4]] as const) {
    const b = buildRequest(resp(command), 6);
    const end = parser.parse(b, 0, b.length);
    t.equal(end, b.length, `${command} is one whole request`);
    t.equal(parser.argc, argc);
  }
  const mget = buildRequest(resp('mget'), 6).toString('latin1');
  t.match(mget, /p:00000006.*p:00000000.*p:00000001/s, 'MGET keys wrap around the key count');
});

t.test('memcached requests', async (t) => {
  const w: Workload = { protocol: 'memcache', command: 'set', valueBytes: 4, keyCount: 2, keyPrefix: 'm', mgetKeys: 2 };
  t.equal(buildRequest(w, 1).toString('latin1'), 'set m:00000001 0 0 4\r\nahov\r\n');
  t.equal(buildRequest({ ...w, command: 'get' }, 3).toString('latin1'), 'get m:00000001\r\n');
  t.equal(buildRequest({ ...w, command: 'mget' }, 1).toString('latin1'), 'get m:00000001 m:00000000\r\n');
});
