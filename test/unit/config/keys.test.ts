import t from 'tap';
import { parseConfig, type PoolConfig } from '../../../src/config/index.ts';
import { KEY_RULES } from '../../../src/config/pool-keys.ts';

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

/** Every Dynomite key (and ours) set to a value no default has. */
const dynomiteEveryKey = yaml(
  'node_a:',
  '  listen: 0.0.0.0:9102',
  '  dyn_listen: "[::1]:9101"',
  '  stats_listen: localhost:9222',
  '  hash: crc32a',
  "  hash_tag: '[]'",
  '  distribution: modula',
  '  timeout: 1234',
  '  backlog: 77',
  '  client_connections: 500',
  '  preconnect: false',
  '  auto_eject_hosts: FALSE',
  '  server_retry_timeout: 4321',
  '  server_failure_limit: 9',
  '  servers:',
  '  - 127.0.0.1:7000:2 a',
  '  - "[::1]:7001:3"',
  '  data_store: redis',
  '  redis_requirepass: s3cret',
  '  dyn_seed_provider: florida_provider',
  '  dyn_seeds:',
  '  - 10.0.0.2:8101:r2:dc2:5',
  '  - peer-c.example:8101:r3:dc2:6,7 c',
  '  dyn_port: 9999',
  '  dyn_read_timeout: 111',
  '  dyn_write_timeout: 0',
  '  dyn_connections: 7',
  '  rack: r1',
  '  datacenter: dc2',
  '  tokens: 4294967295, 0007',
  '  gos_interval: 999',
  '  enable_gossip: true',
  '  max_nodes: 512',
  '  dyn_seeds_file: /etc/dynoproxy/seeds',
  '  dyn_seeds_url: http://10.0.0.9:8080/REST/v1/admin/get_seeds',
  '  dyn_seeds_dns: seeds.example',
  '  dyn_seeds_dns_servers:',
  '   - 127.0.0.1:5353',
  '  seeds_refresh: 10000',
  '  join: true',
  '  handoff_grace: 5000',
  '  auto_cleanup: false',
  '  secure_server_option: none',
  '  pem_key_file: /etc/dyn/key.pem',
  '  recon_key_file: /etc/dyn/rk.pem',
  '  recon_iv_file: /etc/dyn/riv.pem',
  '  env: network',
  '  conn_msg_rate: 1000',
  '  read_consistency: dc_safe_quorum',
  '  write_consistency: DC_EACH_SAFE_QUORUM',
  '  stats_interval: 5000',
  '  mbuf_size: 4096',
  '  max_msgs: 300000',
  '  datastore_connections: 4',
  '  local_peer_connections: 2',
  '  remote_peer_connections: 3',
  '  read_repairs_enabled: True',
  '  admin_token: "0123"',
  '  admin_read_token: r3ad',
  '  users:',
  '    - alice >pw +@read ~app:*',
  '  max_request_bytes: 1048576',
  '  client_max_inflight: 64',
  '  client_max_buffered_bytes: 2097152',
  '  peer_secret: p33rs',
  '  max_peer_connections: 64',
  '  client_reply_hard_limit: 1000000',
  '  client_reply_soft_limit: 500000',
  '  client_reply_soft_seconds: 5',
  '  max_tx_commands: 500',
  '  max_tx_bytes: 65536',
  '  max_blocking_connections: 64',
  '  allow_keys: true',
  '  max_memory: 1000000000',
  '  pubsub_scope: cluster',
  '  allow_flush: true',
  '  peer_compat: dynoproxy',
  '  read_failover: false',
  '  write_failover: false',
  '  max_hints: 500',
  '  max_hint_bytes: 65536',
  '  max_hint_age: 60000',
  '  hints_dir: /tmp/hints',
  '  warm_up: false',
  '  warm_up_batch: 100',
  '  warm_up_pause: 7',
  '  phi_threshold: 12',
  '  repair_interval: 3600',
);

/** A nutcracker.yml with every twemproxy key. */
const twemproxyEveryKey = yaml(
  'gamma:',
  '  listen: 127.0.0.1:22123',
  '  hash: md5',
  '  hash_tag: "{}"',
  '  distribution: random',
  '  timeout: 0',
  '  backlog: 1024',
  '  client_connections: 10',
  '  redis: true',
  '  redis_auth: pass word',
  '  redis_db: 0',
  '  preconnect: true',
  '  auto_eject_hosts: true',
  '  server_connections: 2',
  '  server_retry_timeout: 2000',
  '  server_failure_limit: 1',
  '  servers:',
  '   - 127.0.0.1:6379:1 server1',
);

/** Keys that share a field with a key above; one of each pair per pool. */
const aliasKeys = ['requirepass'];
/** TLS keys read real certificate files: test/integration/tls-client.test.ts (and the peer / backend TLS tests) set them. */
const tlsKeys = ['tls_cert', 'tls_key', 'tls_ca', 'tls_client_auth', 'backend_tls', 'backend_tls_ca', 'backend_tls_servername', 'backend_tls_cert', 'backend_tls_key', 'admin_tls', 'client_tls'];

t.test('every Dynomite key is parsed into its field', async (t) => {
  const loaded = parseConfig(dynomiteEveryKey, 'every.yml');
  t.same(loaded.warnings, []);
  t.equal(loaded.style, 'dynomite');
  const expected: PoolConfig = {
    name: 'node_a',
    listen: { host: '0.0.0.0', port: 9102 },
    dynListen: { host: '::1', port: 9101 },
    dynSeeds: ['10.0.0.2:8101:r2:dc2:5', 'peer-c.example:8101:r3:dc2:6,7 c'],
    dynSeedProvider: 'florida_provider',
    dynSeedsFile: '/etc/dynoproxy/seeds',
    dynSeedsUrl: 'http://10.0.0.9:8080/REST/v1/admin/get_seeds',
    dynSeedsDns: 'seeds.example',
    dynSeedsDnsServers: ['127.0.0.1:5353'],
    seedsRefresh: 10000,
    servers: [
      { host: '127.0.0.1', port: 7000, weight: 2, name: 'a' },
      { host: '::1', port: 7001, weight: 3, name: '[::1]:7001' },
    ],
    dataStore: 0,
    tokens: ['4294967295', '0007'],
    rack: 'r1',
    datacenter: 'dc2',
    hash: 'crc32a',
    hashTag: '[]',
    distribution: 'modula',
    timeout: 1234,
    backlog: 77,
    preconnect: false,
    autoEjectHosts: false,
    serverRetryTimeout: 4321,
    serverFailureLimit: 9,
    serverConnections: 4,
    mbufSize: 4096,
    maxMsgs: 300000,
    statsListen: { host: 'localhost', port: 9222 },
    statsInterval: 5000,
    readConsistency: 'DC_SAFE_QUORUM',
    writeConsistency: 'DC_EACH_SAFE_QUORUM',
    requirepass: 's3cret',
    peerSecret: 'p33rs',
    peerCompat: 'dynoproxy',
    maxPeerConnections: 64,
    clientConnections: 500,
    maxRequestBytes: 1048576,
    clientMaxInflight: 64,
    clientMaxBufferedBytes: 2097152,
    maxTxCommands: 500,
    maxTxBytes: 65536,
    clientReplyHardLimit: 1000000,
    clientReplySoftLimit: 500000,
    clientReplySoftSeconds: 5,
    maxBlockingConnections: 64,
    allowKeys: true,
    maxMemory: 1000000000,
    pubsubScope: 'cluster',
    allowFlush: true,
    readFailover: false,
    writeFailover: false,
    maxHints: 500,
    maxHintBytes: 65536,
    maxHintAge: 60000,
    hintsDir: '/tmp/hints',
    warmUp: false,
    warmUpBatch: 100,
    warmUpPause: 7,
    phiThreshold: 12,
    repairInterval: 3600,
    secureServerOption: 'none',
    gossipInterval: 999,
    enableGossip: true,
    maxNodes: 512,
    join: true,
    handoffGrace: 5000,
    autoCleanup: false,
    dynReadTimeout: 111,
    dynWriteTimeout: 0,
    dynPort: 9999,
    dynConnections: 7,
    localPeerConnections: 2,
    remotePeerConnections: 3,
    pemKeyFile: '/etc/dyn/key.pem',
    reconKeyFile: '/etc/dyn/rk.pem',
    reconIvFile: '/etc/dyn/riv.pem',
    env: 'network',
    connMsgRate: 1000,
    readRepairsEnabled: true,
    adminToken: '0123',
    adminReadToken: 'r3ad',
    users: [{ name: 'alice', sha256: '30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4', categories: ['read'], keys: ['app:*'] }],
    tlsCert: null,
    tlsKey: null,
    tlsCa: null,
    tlsClientAuth: false,
    tls: null,
    clientTls: true,
    backendTls: null,
    adminTls: null,
    file: 'every.yml',
  };
  t.strictSame(loaded.pools, [expected]);
});

t.test('every twemproxy key maps onto its Dynomite meaning', async (t) => {
  const loaded = parseConfig(twemproxyEveryKey, 'nutcracker.yml');
  t.same(loaded.warnings, []);
  t.equal(loaded.style, 'twemproxy');
  const pool = loaded.pools[0]!;
  t.same(pool.listen, { host: '127.0.0.1', port: 22123 });
  t.equal(pool.hash, 'md5');
  t.equal(pool.hashTag, '{}');
  t.equal(pool.distribution, 'random');
  t.equal(pool.timeout, 0, 'timeout 0 is "none", as in twemproxy');
  t.equal(pool.backlog, 1024);
  t.equal(pool.clientConnections, 10);
  t.equal(pool.dataStore, 0, 'redis: true is data_store 0');
  t.equal(pool.requirepass, 'pass word', 'redis_auth is requirepass');
  t.equal(pool.preconnect, true);
  t.equal(pool.autoEjectHosts, true);
  t.equal(pool.serverConnections, 2);
  t.equal(pool.serverRetryTimeout, 2000);
  t.equal(pool.serverFailureLimit, 1);
  t.same(pool.servers, [{ host: '127.0.0.1', port: 6379, weight: 1, name: 'server1' }]);
});

t.test('the fixtures above cover every key the loader knows', async (t) => {
  const used = new Set<string>([...aliasKeys, ...tlsKeys]);
  for (const text of [dynomiteEveryKey, twemproxyEveryKey]) {
    for (const match of text.matchAll(/^ {2}([a-z_]+):/gm)) used.add(match[1]!);
  }
  t.same([...KEY_RULES.keys()].filter((key) => !used.has(key)), [], 'known keys no fixture sets');
  t.same([...used].filter((key) => !KEY_RULES.has(key)), [], 'fixture keys the loader does not know');
});

t.test('peer_secret defaults to requirepass; "" turns it off; a public peer port without one is a loud warning', async (t) => {
  const base = ['p:', '  listen: 127.0.0.1:8102', '  dyn_listen: 127.0.0.1:8101', '  tokens: 1', '  servers:', '  - 127.0.0.1:6379:1'];
  const pool = (...extra: string[]) => parseConfig(yaml(...base, ...extra), 'a.yml');
  t.equal(pool().pools[0]!.peerSecret, null);
  t.equal(pool('  requirepass: pw').pools[0]!.peerSecret, 'pw');
  t.equal(pool('  requirepass: pw', '  peer_secret: other').pools[0]!.peerSecret, 'other');
  t.equal(pool('  requirepass: pw', '  peer_secret: ""').pools[0]!.peerSecret, null);
  t.equal(pool().pools[0]!.maxPeerConnections, 1024);
  t.same(pool().warnings, [], 'a loopback peer port without a secret is fine');
  const open = parseConfig(yaml(...base.map((l) => l.replace('dyn_listen: 127.0.0.1', 'dyn_listen: 0.0.0.0'))), 'a.yml');
  t.equal(open.warnings.length, 1);
  t.match(open.warnings[0], /SECURITY: the peer port 0\.0\.0\.0:8101 is not loopback and has no peer_secret/);
  const closed = parseConfig(yaml(...base.map((l) => l.replace('dyn_listen: 127.0.0.1', 'dyn_listen: 0.0.0.0')), '  peer_secret: s'), 'a.yml');
  t.same(closed.warnings, []);
  t.throws(() => pool('  max_peer_connections: 0'), /max_peer_connections/);
});

t.test('aliases: requirepass, redis_requirepass and redis_auth are one setting', async (t) => {
  for (const key of ['requirepass', 'redis_requirepass', 'redis_auth']) {
    const text = yaml('p:', '  listen: 127.0.0.1:8102', '  data_store: 0', `  ${key}: hunter2`, '  servers:', '  - 127.0.0.1:6379:1');
    t.equal(parseConfig(text, 'a.yml').pools[0]!.requirepass, 'hunter2', key);
  }
});

t.test('data_store takes Dynomite numbers and names', async (t) => {
  const cases: Array<[string, 0 | 1]> = [['0', 0], ['1', 1], ['redis', 0], ['memcache', 1], ['memcached', 1], ["'1'", 1]];
  for (const [written, dataStore] of cases) {
    const text = yaml('p:', '  listen: 127.0.0.1:8102', `  data_store: ${written}`, '  servers:', '  - 127.0.0.1:6379:1');
    t.equal(parseConfig(text, 'a.yml').pools[0]!.dataStore, dataStore, written);
  }
});

t.test('redis: false in a twemproxy file is memcached', async (t) => {
  const text = yaml('p:', '  listen: 127.0.0.1:8102', '  redis: false', '  servers:', '  - 127.0.0.1:11211:1');
  t.equal(parseConfig(text, 'a.yml').pools[0]!.dataStore, 1);
});

t.test('values are read as written, not as YAML 1.1 types', async (t) => {
  const text = yaml('p:', '  listen: 127.0.0.1:8102', '  requirepass: 0x1F', '  admin_token: 1e3', "  tokens: '00012'", '  servers:', '  - 127.0.0.1:6379:1');
  const pool = parseConfig(text, 'a.yml').pools[0]!;
  t.equal(pool.requirepass, '0x1F');
  t.equal(pool.adminToken, '1e3');
  t.same(pool.tokens, ['00012']);
});

t.test('several twemproxy pools, each with its own settings', async (t) => {
  const text = yaml(
    'alpha:', '  listen: 127.0.0.1:22121', '  redis: true', '  servers:', '   - 127.0.0.1:6379:1',
    'beta:', '  listen: 127.0.0.1:22122', '  hash: md5', '  servers:', '   - 127.0.0.1:11211:1', '   - 127.0.0.1:11212:1',
  );
  const loaded = parseConfig(text, 'n.yml');
  t.same(loaded.pools.map((p) => [p.name, p.listen.port, p.dataStore, p.hash, p.servers.length]), [
    ['alpha', 22121, 0, 'fnv1a_64', 1],
    ['beta', 22122, 1, 'md5', 2],
  ]);
});

t.test('unknown keys are warnings with file:line, and a guess when one is close', async (t) => {
  const text = yaml('p:', '  listen: 127.0.0.1:8102', '  hash_tags: "{}"', '  servers:', '  - 127.0.0.1:6379:1', '  frobnicate: 1');
  const loaded = parseConfig(text, 'w.yml');
  t.same(loaded.warnings, [
    'w.yml:3: p.hash_tags: unknown key, ignored (did you mean hash_tag?)',
    'w.yml:6: p.frobnicate: unknown key, ignored',
  ]);
  t.equal(loaded.pools[0]!.hashTag, null, 'the unknown key set nothing');
});
