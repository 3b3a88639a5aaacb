import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';

const confDir = new URL('../../../conf', import.meta.url).pathname;
const samples = readdirSync(confDir).filter((name) => name.endsWith('.yml'));

t.test('the samples named in the task exist', async (t) => {
  for (const name of ['single.yml', 'single-3-backends.yml', 'twemproxy-style.yml', 'memcached.yml', 'cluster-3racks.yml']) {
    t.ok(samples.includes(name), name);
  }
});

for (const name of samples) {
  t.test(`conf/${name} loads without warnings`, async (t) => {
    const loaded = loadConfig(join(confDir, name));
    t.same(loaded.warnings, []);
    t.ok(loaded.pools.length >= 1);
    for (const pool of loaded.pools) {
      t.equal(pool.file, join(confDir, name));
      t.ok(pool.servers.length >= 1);
      t.equal(pool.statsListen.host, '127.0.0.1', 'samples keep the admin port on loopback');
    }
  });
}

t.test('single.yml: one redis backend behind 127.0.0.1:8102', async (t) => {
  const { pools, style } = loadConfig(join(confDir, 'single.yml'));
  t.equal(style, 'dynomite');
  t.equal(pools.length, 1);
  const pool = pools[0]!;
  t.same(pool.listen, { host: '127.0.0.1', port: 8102 });
  t.same(pool.servers, [{ host: '127.0.0.1', port: 6379, weight: 1, name: '127.0.0.1:6379' }]);
  t.equal(pool.dataStore, 0);
  t.equal(pool.dynListen, null);
});

t.test('single-3-backends.yml: three redis servers under ketama', async (t) => {
  const pool = loadConfig(join(confDir, 'single-3-backends.yml')).pools[0]!;
  t.same(pool.servers.map((s) => s.port), [6379, 6380, 6381]);
  t.equal(pool.distribution, 'ketama');
  t.equal(pool.hashTag, '{}');
});

t.test('twemproxy-style.yml is read as a nutcracker.yml', async (t) => {
  const { pools, style } = loadConfig(join(confDir, 'twemproxy-style.yml'));
  t.equal(style, 'twemproxy');
  t.same(pools.map((p) => p.name), ['alpha', 'beta']);
  const [alpha, beta] = pools as [NonNullable<(typeof pools)[0]>, NonNullable<(typeof pools)[0]>];
  t.equal(alpha.dataStore, 0, 'redis: true');
  t.same(alpha.servers.map((s) => s.name), ['server1', 'server2']);
  t.equal(alpha.timeout, 400);
  t.equal(beta.dataStore, 1, 'no redis key: memcached, as twemproxy');
  t.equal(beta.servers[0]!.name, '127.0.0.1', 'port 11211 is left out of the ketama name');
  t.equal(beta.backlog, 1024);
  t.equal(beta.preconnect, true);
  t.equal(beta.autoEjectHosts, false, "twemproxy's default");
});

t.test('memcached.yml: data_store 1', async (t) => {
  const pool = loadConfig(join(confDir, 'memcached.yml')).pools[0]!;
  t.equal(pool.dataStore, 1);
  t.equal(pool.servers[0]!.port, 11211);
});

t.test('cluster-3racks.yml: one node of a 3-rack cluster', async (t) => {
  const pool = loadConfig(join(confDir, 'cluster-3racks.yml')).pools[0]!;
  t.same(pool.dynListen, { host: '127.0.0.1', port: 8101 });
  t.equal(pool.dynSeeds.length, 2);
  t.same(pool.tokens, ['101134286']);
  t.equal(pool.rack, 'rack1');
  t.equal(pool.datacenter, 'dc1');
  t.equal(pool.distribution, 'vnode', 'tokens given: vnode');
  t.equal(pool.readConsistency, 'DC_QUORUM');
  t.equal(pool.dynPort, 8101, 'dyn_port follows dyn_listen');
});

t.test('loadConfig: an unreadable file is a ConfigError naming the file, line 0', async (t) => {
  const missing = join(tmpdir(), 'dynoproxy-no-such-config.yml');
  t.throws(() => loadConfig(missing), ConfigError);
  t.throws(() => loadConfig(missing), { file: missing, line: 0, key: '', message: /^.*dynoproxy-no-such-config\.yml: cannot read .*ENOENT/ });
});

t.test('loadConfig: errors inside a file name that file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dynoproxy-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'p:\n  listen: 127.0.0.1:8102\n  hash: nope\n  servers:\n  - 127.0.0.1:6379:1\n');
  t.throws(() => loadConfig(file), { name: 'ConfigError', file, line: 3, key: 'hash', message: `${file}:3: p.hash: must be one of one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, murmur3 (got "nope")` });
});
