// The table of pool keys this loader knows: Dynomite's conf_commands[], twemproxy's, and our own.
// Must never hold defaults (pool-defaults.ts) or cross-key rules (check-pools.ts): one value, one key.

import { ValueProblem } from './config-error.ts';
import { parseUser } from './parse-user.ts';
import { parseHostPort, parseLabel, parseSeed, parseServer, parseTokenList } from './parse-address.ts';
import { HASH_NAMES } from '../topology/index.ts';
import {
  CONSISTENCIES,
  DISTRIBUTIONS,
  PEER_COMPATS,
  SECURE_SERVER_OPTIONS,
  type DataStore,
  type PoolConfig,
} from './pool-config.ts';

/** Where a key's value lands; `redisDb` is checked but kept nowhere (only db 0 is served). */
export type DraftField =
  | Exclude<keyof PoolConfig, 'name' | 'file'>
  | 'redisDb'
  | 'backendTlsOn'
  | 'backendTlsCa'
  | 'backendTlsServername'
  | 'backendTlsCert'
  | 'backendTlsKey'
  | 'adminTlsOn';

export interface KeyRule {
  readonly field: DraftField;
  /** Value is a YAML sequence; `parse` then runs once per item. */
  readonly list?: true;
  /** Never echo the value in messages. */
  readonly secret?: true;
  readonly parse: (text: string) => unknown;
}

/** setTimeout clamps anything above 2^31-1 ms to 1 ms, so a longer timer would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const MAX_INT32 = 2_147_483_647;

function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    if (/^-[0-9]+$/.test(text)) throw new ValueProblem('must not be negative');
    if (!/^[0-9]+$/.test(text)) throw new ValueProblem('must be a whole number');
    const n = Number(text);
    if (n < min || n > max) throw new ValueProblem(`must be from ${min} to ${max}`);
    return n;
  };
}

function boolean(text: string): boolean {
  if (text === 'true' || text === 'True' || text === 'TRUE') return true;
  if (text === 'false' || text === 'False' || text === 'FALSE') return false;
  throw new ValueProblem('must be true or false');
}

function oneOf<T extends string>(choices: readonly T[], ignoreCase = false): (text: string) => T {
  return (text) => {
    const wanted = ignoreCase ? text.toUpperCase() : text;
    const found = choices.find((choice) => choice === wanted);
    if (found === undefined) throw new ValueProblem(`must be one of ${choices.join(', ')}`);
    return found;
  };
}

function nonEmpty(text: string): string {
  if (text === '') throw new ValueProblem('must not be empty');
  return text;
}

/**
 * Two printable ASCII characters. The C loaders check for two bytes (len != 2) because the tag scan
 * compares single key bytes; a two-byte UTF-8 character passes their check and means nothing.
 */
function httpUrl(text: string): string {
  if (!/^http:\/\/[^\s/]+(\/\S*)?$/.test(text)) throw new ValueProblem('must be an http:// URL (host[:port]/path)');
  return text;
}

function hashTag(text: string): string {
  if (!/^[\x21-\x7e]{2}$/.test(text)) {
    throw new ValueProblem('must be two printable ASCII characters, an opening and a closing one, e.g. "{}"');
  }
  return text;
}

/** Dynomite reads a number (conf_set_num); names are accepted too because a bare 1 says little. */
function dataStore(text: string): DataStore {
  if (text === '0' || text === 'redis') return 0;
  if (text === '1' || text === 'memcache' || text === 'memcached') return 1;
  throw new ValueProblem('must be 0 (redis) or 1 (memcached), or the name redis or memcached');
}

function redisFlag(text: string): DataStore {
  return boolean(text) ? 0 : 1;
}

function redisDb(text: string): number {
  const db = integer(0, MAX_INT32)(text);
  if (db !== 0) {
    throw new ValueProblem('only database 0 is supported: a sharded keyspace has a single database');
  }
  return db;
}

function mbufSize(text: string): number {
  const n = integer(512, 512_000)(text); // Dynomite MBUF_MIN_SIZE .. MBUF_MAX_SIZE
  if (n % 16 !== 0) throw new ValueProblem('must be a multiple of 16'); // Dynomite conf_validate_pool()
  return n;
}

function seed(text: string): string {
  parseSeed(text);
  return text;
}

const rules: Array<[string, KeyRule]> = [
  // Shared by twemproxy and Dynomite.
  ['listen', { field: 'listen', parse: parseHostPort }],
  ['hash', { field: 'hash', parse: oneOf(HASH_NAMES) }],
  ['hash_tag', { field: 'hashTag', parse: hashTag }],
  ['distribution', { field: 'distribution', parse: oneOf(DISTRIBUTIONS) }],
  ['timeout', { field: 'timeout', parse: integer(0, MAX_TIMER_MS) }],
  ['backlog', { field: 'backlog', parse: integer(0, MAX_INT32) }],
  ['client_connections', { field: 'clientConnections', parse: integer(0, MAX_INT32) }],
  ['preconnect', { field: 'preconnect', parse: boolean }],
  ['auto_eject_hosts', { field: 'autoEjectHosts', parse: boolean }],
  ['server_connections', { field: 'serverConnections', parse: integer(1, MAX_INT32) }],
  ['server_retry_timeout', { field: 'serverRetryTimeout', parse: integer(0, MAX_TIMER_MS) }],
  ['server_failure_limit', { field: 'serverFailureLimit', parse: integer(1, MAX_INT32) }],
  ['servers', { field: 'servers', list: true, parse: parseServer }],
  // twemproxy only.
  ['redis', { field: 'dataStore', parse: redisFlag }],
  ['redis_auth', { field: 'requirepass', secret: true, parse: nonEmpty }],
  ['redis_db', { field: 'redisDb', parse: redisDb }],
  // Dynomite only.
  ['data_store', { field: 'dataStore', parse: dataStore }],
  ['redis_requirepass', { field: 'requirepass', secret: true, parse: nonEmpty }],
  ['dyn_listen', { field: 'dynListen', parse: parseHostPort }],
  ['dyn_seeds_file', { field: 'dynSeedsFile', parse: nonEmpty }],
  ['dyn_seeds_url', { field: 'dynSeedsUrl', parse: httpUrl }],
  ['dyn_seeds_dns', { field: 'dynSeedsDns', parse: nonEmpty }],
  ['dyn_seeds_dns_servers', { field: 'dynSeedsDnsServers', list: true, parse: nonEmpty }],
  ['seeds_refresh', { field: 'seedsRefresh', parse: integer(100, MAX_TIMER_MS) }],
  ['dyn_seed_provider', { field: 'dynSeedProvider', parse: oneOf(['simple_provider', 'florida_provider', 'dns_provider']) }],
  ['dyn_seeds', { field: 'dynSeeds', list: true, parse: seed }],
  ['dyn_port', { field: 'dynPort', parse: integer(1, 65535) }],
  ['dyn_read_timeout', { field: 'dynReadTimeout', parse: integer(0, MAX_TIMER_MS) }],
  ['dyn_write_timeout', { field: 'dynWriteTimeout', parse: integer(0, MAX_TIMER_MS) }],
  // Dynomite refuses 0 ("dyn_connections: cannot be 0").
  ['dyn_connections', { field: 'dynConnections', parse: integer(1, MAX_INT32) }],
  ['rack', { field: 'rack', parse: parseLabel }],
  ['datacenter', { field: 'datacenter', parse: parseLabel }],
  ['tokens', { field: 'tokens', parse: parseTokenList }],
  ['gos_interval', { field: 'gossipInterval', parse: integer(1, MAX_TIMER_MS) }],
  ['enable_gossip', { field: 'enableGossip', parse: boolean }],
  ['secure_server_option', { field: 'secureServerOption', parse: oneOf(SECURE_SERVER_OPTIONS) }],
  ['pem_key_file', { field: 'pemKeyFile', parse: nonEmpty }],
  ['recon_key_file', { field: 'reconKeyFile', parse: nonEmpty }],
  ['recon_iv_file', { field: 'reconIvFile', parse: nonEmpty }],
  ['env', { field: 'env', parse: nonEmpty }],
  ['conn_msg_rate', { field: 'connMsgRate', parse: integer(1, MAX_INT32) }],
  // Dynomite compares these with strcasecmp.
  ['read_consistency', { field: 'readConsistency', parse: oneOf(CONSISTENCIES, true) }],
  ['write_consistency', { field: 'writeConsistency', parse: oneOf(CONSISTENCIES, true) }],
  ['stats_listen', { field: 'statsListen', parse: parseHostPort }],
  ['stats_interval', { field: 'statsInterval', parse: integer(1, MAX_TIMER_MS) }],
  ['mbuf_size', { field: 'mbufSize', parse: mbufSize }],
  ['max_msgs', { field: 'maxMsgs', parse: integer(100_000, 1_000_000) }], // MIN/MAX_ALLOC_MSGS
  // Dynomite keeps these in a uint8_t; its newer name for server_connections is datastore_connections.
  ['datastore_connections', { field: 'serverConnections', parse: integer(1, 255) }],
  ['local_peer_connections', { field: 'localPeerConnections', parse: integer(1, 255) }],
  ['remote_peer_connections', { field: 'remotePeerConnections', parse: integer(1, 255) }],
  ['read_repairs_enabled', { field: 'readRepairsEnabled', parse: boolean }],
  // Ours.
  ['requirepass', { field: 'requirepass', secret: true, parse: nonEmpty }],
  ['admin_token', { field: 'adminToken', secret: true, parse: nonEmpty }],
  ['admin_read_token', { field: 'adminReadToken', secret: true, parse: nonEmpty }],
  ['users', { field: 'users', list: true, secret: true, parse: parseUser }],
  // "" turns peer authentication off where requirepass would otherwise supply it (mixed clusters with Dynomite).
  ['peer_secret', { field: 'peerSecret', secret: true, parse: (text) => text }],
  // What the seeds run (dynoproxy or dynomite); a seed may say otherwise with `peer_compat=` after its address.
  ['peer_compat', { field: 'peerCompat', parse: oneOf(PEER_COMPATS) }],
  ['max_peer_connections', { field: 'maxPeerConnections', parse: integer(1, 65535) }],
  ['max_request_bytes', { field: 'maxRequestBytes', parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['client_max_inflight', { field: 'clientMaxInflight', parse: integer(1, MAX_INT32) }],
  ['client_max_buffered_bytes', { field: 'clientMaxBufferedBytes', parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['client_reply_hard_limit', { field: 'clientReplyHardLimit', parse: integer(0, Number.MAX_SAFE_INTEGER) }],
  ['client_reply_soft_limit', { field: 'clientReplySoftLimit', parse: integer(0, Number.MAX_SAFE_INTEGER) }],
  ['client_reply_soft_seconds', { field: 'clientReplySoftSeconds', parse: integer(0, MAX_INT32) }],
  ['max_tx_commands', { field: 'maxTxCommands', parse: integer(1, MAX_INT32) }],
  ['max_tx_bytes', { field: 'maxTxBytes', parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['max_nodes', { field: 'maxNodes', parse: integer(2, 65536) }],
  ['max_blocking_connections', { field: 'maxBlockingConnections', parse: integer(0, 1024) }],
  ['allow_keys', { field: 'allowKeys', parse: boolean }],
  ['max_memory', { field: 'maxMemory', parse: integer(0, Number.MAX_SAFE_INTEGER) }],
  ['pubsub_scope', { field: 'pubsubScope', parse: oneOf(['dc', 'cluster'] as const) }],
  ['allow_flush', { field: 'allowFlush', parse: boolean }],
  ['read_failover', { field: 'readFailover', parse: boolean }],
  ['write_failover', { field: 'writeFailover', parse: boolean }],
  // Hinted handoff: max_hints 0 turns it off; max_hint_age in ms; hints_dir keeps them across restarts.
  ['max_hints', { field: 'maxHints', parse: integer(0, MAX_INT32) }],
  ['max_hint_bytes', { field: 'maxHintBytes', parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['max_hint_age', { field: 'maxHintAge', parse: integer(1, Number.MAX_SAFE_INTEGER) }],
  ['hints_dir', { field: 'hintsDir', parse: nonEmpty }],
  ['warm_up', { field: 'warmUp', parse: boolean }],
  ['join', { field: 'join', parse: boolean }],
  ['handoff_grace', { field: 'handoffGrace', parse: integer(0, MAX_TIMER_MS) }],
  ['auto_cleanup', { field: 'autoCleanup', parse: boolean }],
  ['warm_up_batch', { field: 'warmUpBatch', parse: integer(1, 10_000) }],
  ['warm_up_pause', { field: 'warmUpPause', parse: integer(0, 60_000) }],
  ['repair_interval', { field: 'repairInterval', parse: integer(0, 7 * 24 * 3600) }],
  // TLS (tls-files.ts reads and checks the files): client port, datastores, admin; secure_server_option picks the peers.
  ['tls_cert', { field: 'tlsCert', parse: nonEmpty }],
  ['tls_key', { field: 'tlsKey', parse: nonEmpty }],
  ['tls_ca', { field: 'tlsCa', parse: nonEmpty }],
  ['tls_client_auth', { field: 'tlsClientAuth', parse: boolean }],
  ['client_tls', { field: 'clientTls', parse: boolean }],
  ['backend_tls', { field: 'backendTlsOn', parse: boolean }],
  ['backend_tls_ca', { field: 'backendTlsCa', parse: nonEmpty }],
  ['backend_tls_servername', { field: 'backendTlsServername', parse: nonEmpty }],
  ['backend_tls_cert', { field: 'backendTlsCert', parse: nonEmpty }],
  ['backend_tls_key', { field: 'backendTlsKey', parse: nonEmpty }],
  ['admin_tls', { field: 'adminTlsOn', parse: boolean }],
  ['phi_threshold', { field: 'phiThreshold', parse: integer(1, 64) }],
];

export const KEY_RULES: ReadonlyMap<string, KeyRule> = new Map(rules);

/** Keys only a nutcracker.yml has (Dynomite dropped or deprecated them). */
export const TWEMPROXY_MARKER_KEYS: ReadonlySet<string> = new Set([
  'redis',
  'redis_auth',
  'redis_db',
  'distribution',
  'backlog',
  'server_connections',
]);

/** Keys that make a file one node of a Dynomite cluster. */
export const DYNOMITE_MARKER_KEYS: ReadonlySet<string> = new Set([
  'dyn_listen',
  'dyn_seeds',
  'tokens',
  'rack',
  'datacenter',
  'data_store',
]);

/** The known key closest to a misspelt one, if it is plausibly a typo (edit distance <= 2). */
export function closestKey(unknown: string): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const known of KEY_RULES.keys()) {
    const distance = editDistance(unknown, known);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
