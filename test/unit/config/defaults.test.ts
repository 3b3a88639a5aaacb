import t from 'tap';
import { parseConfig, type PoolConfig } from '../../../src/config/index.ts';

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

function onlyPool(text: string): PoolConfig {
  const loaded = parseConfig(text, 'test.yml');
  if (loaded.pools.length !== 1) throw new Error('expected one pool');
  return loaded.pools[0]!;
}

/** Everything not decided by style: Dynomite's defaults, ours where Dynomite has none. */
const common = {
  dynListen: null,
  dynSeeds: [],
  dynSeedProvider: 'simple_provider',
  dynSeedsFile: null,
  dynSeedsUrl: null,
  dynSeedsDns: null,
  dynSeedsDnsServers: [],
  seedsRefresh: 30000,
  tokens: [],
  rack: 'localrack',
  datacenter: 'localdc',
  hashTag: null,
  backlog: 512,
  serverConnections: 1,
  mbufSize: 16384,
  maxMsgs: 200000,
  statsListen: { host: '127.0.0.1', port: 22222 },
  statsInterval: 30000,
  readConsistency: 'DC_ONE',
  writeConsistency: 'DC_ONE',
  requirepass: null,
  peerSecret: null,
  peerCompat: 'dynoproxy',
  maxPeerConnections: 1024,
  clientConnections: 0,
  maxRequestBytes: 512 * 1024 * 1024,
  clientMaxInflight: 10000,
  clientMaxBufferedBytes: 64 * 1024 * 1024,
  maxTxCommands: 10000,
  maxTxBytes: 64 * 1024 * 1024,
  clientReplyHardLimit: 256 * 1024 * 1024,
  clientReplySoftLimit: 128 * 1024 * 1024,
  clientReplySoftSeconds: 60,
  maxBlockingConnections: 512,
  allowKeys: false,
  maxMemory: 0,
  pubsubScope: 'dc',
  allowFlush: false,
  readFailover: true,
  writeFailover: true,
  maxHints: 1_000_000,
  maxHintBytes: 256 * 1024 * 1024,
  maxHintAge: 3 * 3600 * 1000,
  hintsDir: null,
  warmUp: true,
  warmUpBatch: 256,
  warmUpPause: 6,
  phiThreshold: 8,
  repairInterval: 0,
  secureServerOption: 'none',
  gossipInterval: 30000,
  enableGossip: false,
  maxNodes: 1024,
  join: false,
  handoffGrace: 30000,
  autoCleanup: true,
  dynReadTimeout: 10000,
  dynWriteTimeout: 10000,
  dynPort: 8101,
  dynConnections: 100,
  localPeerConnections: 1,
  remotePeerConnections: 1,
  pemKeyFile: 'conf/dynomite.pem',
  reconKeyFile: 'conf/recon_key.pem',
  reconIvFile: 'conf/recon_iv.pem',
  env: 'aws',
  connMsgRate: 50000,
  readRepairsEnabled: false,
  adminToken: null,
  adminReadToken: null,
  users: [],
  tlsCert: null,
  tlsKey: null,
  tlsCa: null,
  tlsClientAuth: false,
  tls: null,
  clientTls: true,
  backendTls: null,
  adminTls: null,
  file: 'test.yml',
};

t.test('Dynomite style: Dynomite defaults for every unset key', async (t) => {
  const loaded = parseConfig(yaml('dyn_o_mite:', '  listen: 127.0.0.1:8102', '  servers:', '  - 127.0.0.1:6379:1'), 'test.yml');
  t.equal(loaded.style, 'dynomite', 'a file with no marker key reads as Dynomite');
  t.same(loaded.warnings, []);
  t.strictSame(loaded.pools, [
    {
      ...common,
      name: 'dyn_o_mite',
      listen: { host: '127.0.0.1', port: 8102 },
      servers: [{ host: '127.0.0.1', port: 6379, weight: 1, name: '127.0.0.1:6379' }],
      dataStore: 0,
      hash: 'murmur',
      distribution: 'ketama',
      timeout: 5000,
      preconnect: true,
      autoEjectHosts: true,
      serverRetryTimeout: 10000,
      serverFailureLimit: 3,
    },
  ]);
});

t.test('Dynomite style: vnode when the node has tokens, ketama when it has none', async (t) => {
  const withTokens = onlyPool(yaml('p:', '  listen: 127.0.0.1:8102', "  tokens: '12345'", '  servers:', '  - 127.0.0.1:6379:1'));
  t.equal(withTokens.distribution, 'vnode');
  const withoutTokens = onlyPool(yaml('p:', '  listen: 127.0.0.1:8102', '  data_store: 0', '  servers:', '  - 127.0.0.1:6379:1', '  - 127.0.0.1:6380:1'));
  t.equal(withoutTokens.distribution, 'ketama');
});

t.test('twemproxy style: twemproxy defaults, finite timeout', async (t) => {
  const loaded = parseConfig(yaml('alpha:', '  listen: 127.0.0.1:22121', '  redis: true', '  servers:', '  - 127.0.0.1:6379:1'), 'test.yml');
  t.equal(loaded.style, 'twemproxy');
  t.strictSame(loaded.pools, [
    {
      ...common,
      name: 'alpha',
      listen: { host: '127.0.0.1', port: 22121 },
      servers: [{ host: '127.0.0.1', port: 6379, weight: 1, name: '127.0.0.1:6379' }],
      dataStore: 0,
      hash: 'fnv1a_64',
      distribution: 'ketama',
      timeout: 5000,
      preconnect: false,
      autoEjectHosts: false,
      serverRetryTimeout: 30000,
      serverFailureLimit: 2,
    },
  ]);
});

t.test('twemproxy style: a pool without `redis: true` is memcached, as in twemproxy', async (t) => {
  const pool = onlyPool(yaml('beta:', '  listen: 127.0.0.1:22122', '  distribution: ketama', '  servers:', '  - 127.0.0.1:11211:1'));
  t.equal(pool.dataStore, 1);
  t.equal(pool.servers[0]!.name, '127.0.0.1');
});

t.test('style: any Dynomite cluster key wins over twemproxy keys', async (t) => {
  // data_store is a marker too, but it would clash with redis: (one setting, two keys); see keys.test.ts.
  for (const marker of ['dyn_listen: 127.0.0.1:8101', 'rack: r1', 'datacenter: dc1', "tokens: '1'"]) {
    const loaded = parseConfig(yaml('p:', '  listen: 127.0.0.1:8102', '  redis: true', `  ${marker}`, '  servers:', '  - 127.0.0.1:6379:1'), 'test.yml');
    t.equal(loaded.style, 'dynomite', marker);
    t.equal(loaded.pools[0]!.preconnect, true, `${marker}: Dynomite's preconnect default`);
    t.equal(loaded.pools[0]!.dataStore, 0, `${marker}: redis: true still maps to data_store 0`);
  }
  for (const marker of ['redis: true', 'redis_db: 0', 'distribution: modula', 'backlog: 10', 'server_connections: 2']) {
    const loaded = parseConfig(yaml('p:', '  listen: 127.0.0.1:8102', `  ${marker}`, '  servers:', '  - 127.0.0.1:6379:1'), 'test.yml');
    t.equal(loaded.style, 'twemproxy', marker);
  }
});

t.test('style: a twemproxy key in one pool makes the whole file twemproxy', async (t) => {
  const loaded = parseConfig(
    yaml('a:', '  listen: 127.0.0.1:1001', '  servers:', '  - 127.0.0.1:6379:1', 'b:', '  listen: 127.0.0.1:1002', '  redis: true', '  servers:', '  - 127.0.0.1:6379:1'),
    'test.yml',
  );
  t.equal(loaded.style, 'twemproxy');
  t.same(loaded.pools.map((p) => [p.name, p.dataStore, p.hash]), [['a', 1, 'fnv1a_64'], ['b', 0, 'fnv1a_64']]);
});

t.test('defaults are fresh objects per pool', async (t) => {
  const loaded = parseConfig(
    yaml('a:', '  listen: 127.0.0.1:1001', '  servers:', '  - 127.0.0.1:6379:1', 'b:', '  listen: 127.0.0.1:1002', '  servers:', '  - 127.0.0.1:6379:1'),
    'test.yml',
  );
  const [a, b] = loaded.pools as [PoolConfig, PoolConfig];
  a.statsListen.port = 1;
  t.equal(b.statsListen.port, 22222, 'mutating one pool does not leak into another or into the defaults');
  t.equal(onlyPool(yaml('c:', '  listen: 127.0.0.1:1001', '  servers:', '  - 127.0.0.1:6379:1')).statsListen.port, 22222);
});
