import t from 'tap';
import { ConfigError, parseConfig } from '../../../src/config/index.ts';

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

function errorOf(text: string, file = 'bad.yml'): ConfigError {
  try {
    parseConfig(text, file);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`no ConfigError for:\n${text}`);
}

/** A valid pool whose line 5 is the key under test. */
const withLine5 = (line: string) => yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - 127.0.0.1:6379:1', `  ${line}`);

t.test('the base file is valid, so each failure below is the line under test', async (t) => {
  t.equal(parseConfig(withLine5('timeout: 10'), 'ok.yml').pools[0]!.timeout, 10);
});

// [key, value as written, what is wrong]; the message is `<file>:5: pool.<key>: <what> (got "<value>")`.
const invalid: Array<[string, string, string]> = [
  ['hash', 'murmur5', 'must be one of one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, murmur3'],
  ['hash', 'MURMUR', 'must be one of one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins, murmur3'],
  ['hash_tag', '"{"', 'must be two printable ASCII characters, an opening and a closing one, e.g. "{}"'],
  ['hash_tag', '"{}}"', 'must be two printable ASCII characters, an opening and a closing one, e.g. "{}"'],
  ['hash_tag', '"é"', 'must be two printable ASCII characters, an opening and a closing one, e.g. "{}"'],
  ['distribution', 'consistent', 'must be one of ketama, modula, random, vnode'],
  ['timeout', '-1', 'must not be negative'],
  ['timeout', '5s', 'must be a whole number'],
  ['timeout', '1.5', 'must be a whole number'],
  ['timeout', '2147483648', 'must be from 0 to 2147483647'],
  ['backlog', 'lots', 'must be a whole number'],
  ['client_connections', '-5', 'must not be negative'],
  ['preconnect', 'yes', 'must be true or false'],
  ['auto_eject_hosts', '1', 'must be true or false'],
  ['server_connections', '0', 'must be from 1 to 2147483647'],
  ['server_retry_timeout', '-30000', 'must not be negative'],
  ['server_failure_limit', '0', 'must be from 1 to 2147483647'],
  ['redis', 'maybe', 'must be true or false'],
  ['redis_db', '1', 'only database 0 is supported: a sharded keyspace has a single database'],
  ['data_store', '2', 'must be 0 (redis) or 1 (memcached), or the name redis or memcached'],
  ['data_store', 'mongo', 'must be 0 (redis) or 1 (memcached), or the name redis or memcached'],
  ['dyn_listen', '127.0.0.1', 'must be host:port'],
  ['dyn_listen', '/tmp/dyn.sock', 'unix socket paths are not supported; write host:port'],
  ['stats_listen', '127.0.0.1:70000', 'port must be a number from 1 to 65535'],
  ['dyn_seed_provider', 'zookeeper', 'must be one of simple_provider, florida_provider, dns_provider'],
  ['dyn_port', '0', 'must be from 1 to 65535'],
  ['dyn_read_timeout', '-1', 'must not be negative'],
  ['dyn_write_timeout', 'x', 'must be a whole number'],
  ['dyn_connections', '0', 'must be from 1 to 2147483647'],
  ['rack', '"rack:1"', 'must not contain spaces or colons'],
  ['datacenter', '"dc 1"', 'must not contain spaces or colons'],
  ['tokens', 'abc', 'tokens must be decimal numbers separated by commas'],
  ['tokens', '"1,,2"', 'tokens must be decimal numbers separated by commas'],
  ['gos_interval', '0', 'must be from 1 to 2147483647'],
  ['enable_gossip', 'on', 'must be true or false'],
  ['secure_server_option', 'some', 'must be one of none, rack, datacenter, all'],
  ['pem_key_file', '""', 'must not be empty'],
  ['recon_key_file', "''", 'must not be empty'],
  ['recon_iv_file', '""', 'must not be empty'],
  ['env', '""', 'must not be empty'],
  ['conn_msg_rate', '0', 'must be from 1 to 2147483647'],
  ['read_consistency', 'DC_ALL', 'must be one of DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM'],
  ['write_consistency', 'quorum', 'must be one of DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM'],
  ['stats_interval', '0', 'must be from 1 to 2147483647'],
  ['mbuf_size', '100', 'must be from 512 to 512000'],
  ['mbuf_size', '1000', 'must be a multiple of 16'],
  ['max_msgs', '5', 'must be from 100000 to 1000000'],
  ['datastore_connections', '256', 'must be from 1 to 255'],
  ['local_peer_connections', '0', 'must be from 1 to 255'],
  ['remote_peer_connections', '300', 'must be from 1 to 255'],
  ['read_repairs_enabled', '2', 'must be true or false'],
  ['max_request_bytes', '0', 'must be from 1 to 9007199254740991'],
  ['client_max_inflight', '0', 'must be from 1 to 2147483647'],
  ['client_max_buffered_bytes', '64MB', 'must be a whole number'],
  ['max_tx_commands', '0', 'must be from 1 to 2147483647'],
  ['max_tx_bytes', '-1', 'must not be negative'],
];

t.test('each invalid value: ConfigError at its line, naming pool, key and value', async (t) => {
  for (const [key, written, what] of invalid) {
    const error = errorOf(withLine5(`${key}: ${written}`));
    const value = written.replace(/^["'](.*)["']$/, '$1');
    t.equal(error.line, 5, `${key}: ${written} line`);
    t.equal(error.key, key, `${key}: ${written} key`);
    t.equal(error.file, 'bad.yml');
    t.equal(error.message, `bad.yml:5: pool.${key}: ${what} (got ${JSON.stringify(value)})`, `${key}: ${written}`);
  }
});

t.test('secrets are never echoed', async (t) => {
  for (const key of ['requirepass', 'redis_requirepass', 'redis_auth', 'admin_token']) {
    const error = errorOf(withLine5(`${key}: ""`));
    t.equal(error.message, `bad.yml:5: pool.${key}: must not be empty`, key);
  }
  const memcached = errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  data_store: 1', '  servers:', '  - 127.0.0.1:11211:1', '  requirepass: hunter2'));
  t.equal(memcached.line, 6);
  t.equal(memcached.key, 'requirepass');
  t.equal(memcached.message, 'bad.yml:6: pool.requirepass: is only valid for a redis pool (this pool is memcached)');
  const twemproxy = errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  redis_auth: hunter2', '  servers:', '  - 127.0.0.1:11211:1'));
  t.match(twemproxy, { line: 3, key: 'redis_auth', message: /only valid for a redis pool/ }, 'twemproxy rejects redis_auth on a memcached pool');
  t.notMatch(twemproxy.message, /hunter2/);
});

t.test('shape errors point at the value', async (t) => {
  t.match(errorOf(withLine5('hash:')), { line: 5, key: 'hash', message: 'bad.yml:5: pool.hash: has no value' });
  t.match(errorOf(withLine5('hash: [murmur, md5]')), { line: 5, key: 'hash', message: 'bad.yml:5: pool.hash: must be a single value, not a list' });
  t.match(errorOf(withLine5('hash: {a: b}')), { line: 5, key: 'hash', message: /not a mapping/ });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers: 127.0.0.1:6379:1')), {
    line: 3, key: 'servers', message: 'bad.yml:3: pool.servers: must be a list, one "- item" per line (got "127.0.0.1:6379:1")',
  });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - 127.0.0.1:6379:1', '  - 127.0.0.1:6380', '  - 127.0.0.1:6381:1')), {
    line: 5, key: 'servers', message: 'bad.yml:5: pool.servers: must be host:port:weight [name], e.g. 127.0.0.1:6379:1 (got "127.0.0.1:6380")',
  });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - [::1]:6379:1')), {
    line: 4, message: /^bad\.yml:4: not valid YAML: .*\(quote addresses that start with \[, e\.g\. "\[::1\]:8102"\)$/,
  });
  t.match(errorOf(yaml('pool:', '  listen: [::1]:8102', '  servers:', '  - 127.0.0.1:6379:1')), {
    line: 2, message: /quote addresses that start with \[/,
  });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - [::1]', '  - 127.0.0.1:6379:1')), {
    line: 4, key: 'servers', message: /each item must be a single string \(quote addresses that start with \[/,
  });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers: []')), {
    line: 3, key: 'servers', message: 'bad.yml:3: pool.servers: must list at least one host:port:weight',
  });
  const anchors = yaml('pool:', '  listen: &l 127.0.0.1:8102', '  dyn_listen: *l', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(anchors), { line: 3, key: 'dyn_listen', message: /aliases are not supported/ });
});

t.test('missing required keys point at the pool', async (t) => {
  t.match(errorOf(yaml('# comment', 'pool:', '  servers:', '  - 127.0.0.1:6379:1')), {
    line: 2, key: 'listen', message: 'bad.yml:2: pool.listen: is missing; write listen: host:port',
  });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102')), {
    line: 1, key: 'servers', message: 'bad.yml:1: pool.servers: is missing; list at least one host:port:weight',
  });
});

t.test('a setting given twice is an error at the second', async (t) => {
  t.match(errorOf(withLine5('listen: 127.0.0.1:9000')), { line: 5, key: 'listen', message: 'bad.yml:5: pool.listen: is set twice (first at line 2)' });
  const aliases = yaml('pool:', '  listen: 127.0.0.1:8102', '  redis_auth: a', '  requirepass: b', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(aliases), { line: 4, key: 'requirepass', message: 'bad.yml:4: pool.requirepass: sets the same setting as redis_auth (line 3); keep one of them' });
  const store = yaml('pool:', '  listen: 127.0.0.1:8102', '  data_store: 1', '  redis: true', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(store), { line: 4, key: 'redis', message: /same setting as data_store \(line 3\)/ });
  const connections = withLine5('server_connections: 2\n  datastore_connections: 2');
  t.match(errorOf(connections), { line: 6, key: 'datastore_connections', message: /same setting as server_connections/ });
});

t.test('rules between keys', async (t) => {
  const twins = yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - 127.0.0.1:6379:1 a', '  - 127.0.0.1:6380:1', '  - 127.0.0.1:6381:1 a');
  t.match(errorOf(twins), { line: 6, key: 'servers', message: 'bad.yml:6: pool.servers: two servers are named "a" (lines 4 and 6); add a distinct name after the address' });
  const sameAddress = yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - 127.0.0.1:11211:1', '  - 127.0.0.1:11211:2');
  t.match(errorOf(sameAddress), { line: 5, key: 'servers', message: /two servers are named "127.0.0.1"/ });
  t.match(errorOf(withLine5('distribution: vnode')), { line: 5, key: 'distribution', message: 'bad.yml:5: pool.distribution: vnode places keys by token, and this pool has no tokens' });
  const seedsNoTokens = yaml('pool:', '  listen: 127.0.0.1:8102', '  dyn_listen: 127.0.0.1:8101', '  dyn_seeds:', '  - 127.0.0.2:8101:r2:dc1:1', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(seedsNoTokens), { line: 5, key: 'dyn_seeds', message: /no tokens/ });
  const seedsNoListen = yaml('pool:', '  listen: 127.0.0.1:8102', "  tokens: '1'", '  dyn_seeds:', '  - 127.0.0.2:8101:r2:dc1:1', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(seedsNoListen), { line: 5, key: 'dyn_seeds', message: /add dyn_listen/ });
  const badSeed = yaml('pool:', '  listen: 127.0.0.1:8102', '  dyn_listen: 127.0.0.1:8101', "  tokens: '1'", '  dyn_seeds:', '  - 127.0.0.2:8101:r2:dc1:1', '  - 127.0.0.3:8101:r3:1', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(badSeed), { line: 7, key: 'dyn_seeds', message: 'bad.yml:7: pool.dyn_seeds: must be host:port:rack:dc:tokens [name] (got "127.0.0.3:8101:r3:1")' });
});

t.test('listeners may not share a port', async (t) => {
  const pools = (aListen: string, bListen: string) =>
    yaml('a:', `  listen: ${aListen}`, '  servers:', '  - 127.0.0.1:6379:1', 'b:', `  listen: ${bListen}`, '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(pools('127.0.0.1:8102', '127.0.0.1:8102')), { line: 6, key: 'listen', message: 'bad.yml:6: b.listen: 127.0.0.1:8102 is already taken by a.listen (line 2)' });
  t.match(errorOf(pools('0.0.0.0:8102', '127.0.0.1:8102')), { line: 6, message: /already taken by a.listen/ }, 'a wildcard overlaps every address');
  t.match(errorOf(pools('127.0.0.1:8102', '"[::]:8102"')), { line: 6, message: /\[::\]:8102 is already taken/ });
  t.equal(parseConfig(pools('127.0.0.1:8102', '127.0.0.2:8102'), 'ok.yml').pools.length, 2, 'distinct addresses, same port');
  t.match(errorOf(pools('127.0.0.1:22222', '127.0.0.1:8102')), { line: 1, key: 'stats_listen', message: /a.stats_listen: 127.0.0.1:22222 is already taken by a.listen/ });
  t.match(errorOf(withLine5('dyn_listen: 127.0.0.1:8102')), { line: 5, key: 'dyn_listen', message: 'bad.yml:5: pool.dyn_listen: 127.0.0.1:8102 is already taken by pool.listen (line 2)' });
  t.match(errorOf(withLine5('stats_listen: 0.0.0.0:8102')), { line: 5, key: 'stats_listen', message: /already taken by pool.listen/ });
});

t.test('a cluster node file holds one pool', async (t) => {
  const text = yaml('a:', '  listen: 127.0.0.1:8102', '  dyn_listen: 127.0.0.1:8101', "  tokens: '1'", '  servers:', '  - 127.0.0.1:6379:1', 'b:', '  listen: 127.0.0.1:9102', '  servers:', '  - 127.0.0.1:6379:1');
  t.match(errorOf(text), { line: 7, key: '', message: "bad.yml:7: b: a cluster node's file holds exactly one pool, as in Dynomite" });
});

t.test('file-level errors', async (t) => {
  t.match(errorOf(''), { line: 1, key: '', message: /defines no pool/ });
  t.match(errorOf('# only a comment\n'), { line: 1, message: /defines no pool/ });
  t.match(errorOf(yaml('- a', '- b')), { line: 1, message: /must map pool names/ });
  t.match(errorOf(yaml('pool: 1')), { line: 1, message: 'bad.yml:1: pool: a pool must be a mapping of settings (key: value)' });
  t.match(errorOf(yaml('a:', '  listen: 127.0.0.1:1', '  servers:', '  - 127.0.0.1:6379:1', 'a:', '  listen: 127.0.0.1:2')), { line: 5, message: /pool defined twice \(first at line 1\)/ });
  t.match(errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '   servers: [1', '')), { key: '', message: /^bad\.yml:\d+: not valid YAML: / });
  const syntax = errorOf(yaml('pool:', '  listen: 127.0.0.1:8102', '  servers:', '  - "127.0.0.1:6379:1', '  hash: murmur'));
  t.match(syntax, { key: '', message: /^bad\.yml:\d+: not valid YAML: / });
  t.ok(syntax.line >= 4, `syntax error located near the open quote (line ${syntax.line})`);
  t.match(errorOf(yaml('a:', '  listen: 127.0.0.1:1', '---', 'b:', '  listen: 127.0.0.1:2')), { line: 3, message: /not valid YAML: Source contains multiple documents/ });
});

t.test('ConfigError carries file, line and key as fields', async (t) => {
  const error = errorOf(withLine5('hash: nope'), 'conf/x.yml');
  t.ok(error instanceof Error);
  t.equal(error.name, 'ConfigError');
  t.same({ file: error.file, line: error.line, key: error.key }, { file: 'conf/x.yml', line: 5, key: 'hash' });
});
