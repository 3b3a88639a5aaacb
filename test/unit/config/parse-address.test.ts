import t from 'tap';
import { ValueProblem } from '../../../src/config/config-error.ts';
import { parseHostPort, parseServer, parseTokenList } from '../../../src/config/parse-address.ts';
import { parseSeed } from '../../../src/config/index.ts';

t.test('listen strings', async (t) => {
  t.same(parseHostPort('127.0.0.1:8102'), { host: '127.0.0.1', port: 8102 });
  t.same(parseHostPort('0.0.0.0:8102'), { host: '0.0.0.0', port: 8102 });
  t.same(parseHostPort('[::1]:8102'), { host: '::1', port: 8102 });
  t.same(parseHostPort('[::]:1'), { host: '::', port: 1 });
  t.same(parseHostPort('localhost:8102'), { host: 'localhost', port: 8102 });
  t.same(parseHostPort('cache-1.example.com:65535'), { host: 'cache-1.example.com', port: 65535 });
});

t.test('bad listen strings say what is wrong', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['/var/run/dynoproxy.sock', /unix socket paths are not supported/],
    ['/var/run/dynoproxy.sock 0666', /unix socket paths are not supported/],
    ['127.0.0.1', /must be host:port/],
    ['127.0.0.1:0', /port must be a number from 1 to 65535/],
    ['127.0.0.1:65536', /port must be a number from 1 to 65535/],
    ['127.0.0.1:http', /port must be a number/],
    ['127.0.0.1:', /port must be a number/],
    [':8102', /host is missing/],
    ['::1:8102', /IPv6 address must be written in brackets/],
    ['[::1:8102', /missing \]/],
    ['[127.0.0.1]:8102', /not IPv6/],
    ['[::1]8102', /port is missing/],
    ['bad_host!:8102', /not a valid name or address/],
    ['127.0.0.1 :8102', /without spaces/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseHostPort(text), ValueProblem, text);
    t.throws(() => parseHostPort(text), { message }, text);
  }
});

t.test('server strings: host:port:weight [name]', async (t) => {
  t.same(parseServer('127.0.0.1:6379:1'), { host: '127.0.0.1', port: 6379, weight: 1, name: '127.0.0.1:6379' });
  t.same(parseServer('127.0.0.1:6380:3 shard-b'), { host: '127.0.0.1', port: 6380, weight: 3, name: 'shard-b' });
  t.same(parseServer('localhost:6379:1'), { host: 'localhost', port: 6379, weight: 1, name: 'localhost:6379' });
  // twemproxy conf_add_server(): port 11211 is dropped from the default name (libmemcached ketama).
  t.same(parseServer('10.0.0.1:11211:1'), { host: '10.0.0.1', port: 11211, weight: 1, name: '10.0.0.1' });
  t.same(parseServer('10.0.0.1:11211:1 mc1'), { host: '10.0.0.1', port: 11211, weight: 1, name: 'mc1' });
  // The default name is the address as written, brackets and all, as the C code copies it.
  t.same(parseServer('[::1]:6379:2'), { host: '::1', port: 6379, weight: 2, name: '[::1]:6379' });
  t.same(parseServer('[::1]:11211:1'), { host: '::1', port: 11211, weight: 1, name: '[::1]' });
});

t.test('bad server strings', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1:6379', /must be host:port:weight \[name\]/],
    ['redis-1:1', /must be host:port:weight \[name\]/],
    ['127.0.0.1:6379:0', /weight must be a number from 1/],
    ['127.0.0.1:6379:x', /host:port:weight/],
    ['127.0.0.1:6379:-1', /host:port:weight/],
    ['/tmp/redis.sock:1', /unix socket paths are not supported/],
    ['127.0.0.1:99999:1', /port must be a number from 1 to 65535/],
    ['127.0.0.1:6379:1 two words', /one word/],
  ];
  for (const [text, message] of cases) t.throws(() => parseServer(text), { message }, text);
});

t.test('seed strings: host:port:rack:dc:tokens [name]', async (t) => {
  t.same(parseSeed('127.0.0.1:8101:rack2:dc1:101134286'), {
    host: '127.0.0.1', port: 8101, rack: 'rack2', datacenter: 'dc1', tokens: ['101134286'], name: null, compat: null,
  });
  t.same(parseSeed('[::1]:8101:r:d:1,2,3 node-b'), {
    host: '::1', port: 8101, rack: 'r', datacenter: 'd', tokens: ['1', '2', '3'], name: 'node-b', compat: null,
  });
  t.same(parseSeed('127.0.0.1:8101:r:d:1 peer_compat=dynomite'), {
    host: '127.0.0.1', port: 8101, rack: 'r', datacenter: 'd', tokens: ['1'], name: null, compat: 'dynomite',
  }, 'an option without a name');
  t.same(parseSeed('127.0.0.1:8101:r:d:1 node-c peer_compat=dynoproxy'), {
    host: '127.0.0.1', port: 8101, rack: 'r', datacenter: 'd', tokens: ['1'], name: 'node-c', compat: 'dynoproxy',
  }, 'a name, then the option');
  const options: [string, RegExp][] = [
    ['127.0.0.1:8101:r:d:1 peer_compat=redis', /peer_compat must be one of dynoproxy, dynomite/],
    ['127.0.0.1:8101:r:d:1 compat=dynomite', /unknown seed option 'compat'/],
    ['127.0.0.1:8101:r:d:1 peer_compat=dynomite node-c', /\[name\] \[peer_compat=/],
    ['127.0.0.1:8101:r:d:1 a b', /\[name\] \[peer_compat=/],
    ['127.0.0.1:8101:r:d:1 peer_compat=dynomite peer_compat=dynomite', /given twice/],
  ];
  for (const [text, message] of options) t.throws(() => parseSeed(text), { message }, text);
  for (const bad of ['127.0.0.1:8101:rack:101134286', '127.0.0.1:8101::dc1:1', '127.0.0.1:8101:r:d:', '127.0.0.1:8101:r:d:12a', 'h:0:r:d:1']) {
    t.throws(() => parseSeed(bad), ValueProblem, bad);
  }
});

t.test('token lists', async (t) => {
  t.same(parseTokenList('0'), ['0']);
  t.same(parseTokenList('0123'), ['0123'], 'kept as written');
  t.same(parseTokenList('1, 2,3'), ['1', '2', '3']);
  t.same(parseTokenList('340282366920938463463374607431768211455'), ['340282366920938463463374607431768211455']);
  for (const bad of ['', '1,', 'a', '-1', '1.5']) t.throws(() => parseTokenList(bad), ValueProblem, bad);
});
