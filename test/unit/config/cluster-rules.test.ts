// Cluster-only configuration rules: what a cluster node's file may not combine, with file:line and the key.
// Pure: parses YAML text only.
import t from 'tap';
import { parseConfig, ConfigError } from '../../../src/config/index.ts';

t.test('a memcached pool can be a cluster node', async (t) => {
  const yaml = 'mc:\n  listen: 127.0.0.1:9000\n  dyn_listen: 127.0.0.1:9001\n  data_store: 1\n  servers:\n  - 127.0.0.1:11211:1\n';
  const config = parseConfig(yaml, 'mc.yml');
  const pool = config.pools[0]!;
  t.equal(pool.dataStore, 1);
  t.same(pool.dynListen, { host: '127.0.0.1', port: 9001 });
  const withDynomite = yaml.replace('  data_store: 1\n', '  data_store: 1\n  tokens: 1\n  dyn_seeds:\n  - 127.0.0.2:8101:r2:dc:1 peer_compat=dynomite\n');
  const err = t.throws(() => parseConfig(withDynomite, 'mc.yml')) as unknown as ConfigError;
  t.equal(err.line, 7, 'the Dynomite seed\'s line');
  t.match(err.message, /mc\.dyn_seeds: a memcached cluster node .* peers with dynoproxy nodes only/);
});

t.test('secure_server_option other than none needs the TLS files', async (t) => {
  const yaml = 'n:\n  listen: 127.0.0.1:9000\n  dyn_listen: 127.0.0.1:9001\n  secure_server_option: all\n  servers:\n  - 127.0.0.1:6379:1\n';
  t.throws(() => parseConfig(yaml, 'n.yml'), /n\.yml:4: n\.secure_server_option: all means mutual TLS between peers: it needs tls_cert, tls_key and tls_ca/);
});

t.test('peer_compat: per pool, per seed, and what peer_secret then asks of Dynomite seeds', async (t) => {
  const node = (lines: string[]): string => ['n:', '  listen: 127.0.0.1:9000', '  dyn_listen: 127.0.0.1:9001', '  tokens: 1', '  servers:', '  - 127.0.0.1:6379:1', ...lines, ''].join('\n');
  const open = parseConfig(node(['  peer_compat: dynomite', '  dyn_seeds:', '  - 127.0.0.2:8101:r2:dc:1']), 'n.yml');
  t.equal(open.pools[0]!.peerCompat, 'dynomite');
  t.same(open.warnings, [], 'no secret: nothing to exempt, nothing to warn about on loopback');
  t.throws(() => parseConfig(node(['  peer_compat: redis']), 'n.yml'), /n\.yml:7: n\.peer_compat: must be one of dynoproxy, dynomite/);

  const secret = ['  peer_secret: s', '  dyn_seeds:'];
  const mixed = parseConfig(node([...secret, '  - 127.0.0.2:8101:r2:dc:1 peer_compat=dynomite', '  - 127.0.0.3:8101:r2:dc:2']), 'n.yml');
  t.equal(mixed.pools[0]!.peerSecret, 's');
  t.match(mixed.warnings.join('\n'), /serves connections from the Dynomite seeds' addresses \(127\.0\.0\.2\) without peer_secret/, 'the exemption is said at startup');

  const named = node([...secret, '  - 127.0.0.3:8101:r2:dc:2', '  - dyno.example:8101:r2:dc:1 peer_compat=dynomite']);
  const e1 = t.throws(() => parseConfig(named, 'n.yml')) as unknown as ConfigError;
  t.equal(e1.line, 10, 'the line of the Dynomite seed');
  t.match(e1.message, /n\.dyn_seeds: the Dynomite seed dyno\.example must be an IP address/);

  const twin = node(['  peer_compat: dynomite', ...secret, '  - 127.0.0.2:8101:r2:dc:1', '  - 127.0.0.2:8102:r2:dc:2 peer_compat=dynoproxy']);
  const e2 = t.throws(() => parseConfig(twin, 'n.yml')) as unknown as ConfigError;
  t.equal(e2.line, 10);
  t.match(e2.message, /shares its address with a dynoproxy seed/);
  t.doesNotThrow(() => parseConfig(twin.replace('  peer_secret: s', '  peer_secret: ""'), 'n.yml'), 'without a secret there is nothing to tell apart');
});
