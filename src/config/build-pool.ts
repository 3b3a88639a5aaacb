// buildPool: one pool's parsed values + its style's defaults -> PoolConfig, with the rules that tie keys together.
// Must never guess a missing required value (listen, servers): it names the key and stops.

import { isIP } from 'node:net';
import { valueError } from './config-error.ts';
import { parseSeed } from './parse-address.ts';
import type { ConfigStyle, DynSeed, HostPort, PoolConfig, ServerConf } from './pool-config.ts';
import { COMMON_DEFAULTS, DYNOMITE_DEFAULTS, TWEMPROXY_DEFAULTS } from './pool-defaults.ts';
import type { DraftField } from './pool-keys.ts';
import type { UserConf } from './parse-user.ts';
import { readTlsFiles } from './tls-files.ts';

/** A value as a key set it: which key (aliases share a field), its line, and per-item lines for lists. */
export interface SetValue {
  key: string;
  line: number;
  value: unknown;
  itemLines: number[];
}

export interface PoolDraft {
  name: string;
  /** Line of the pool's name, where errors about missing keys point. */
  line: number;
  values: Map<DraftField, SetValue>;
}

export function buildPool(draft: PoolDraft, style: ConfigStyle, file: string): PoolConfig {
  const styleDefaults = style === 'twemproxy' ? TWEMPROXY_DEFAULTS : DYNOMITE_DEFAULTS;
  // Values were checked by their key's parser, so each field holds its PoolConfig type.
  const get = <T>(field: DraftField, fallback: T): T => {
    const set = draft.values.get(field);
    return set === undefined ? fallback : (set.value as T);
  };
  const missing = (key: string, why: string) => valueError(file, draft.line, draft.name, key, why, null);

  const listen = get<HostPort | null>('listen', null);
  if (listen === null) throw missing('listen', 'is missing; write listen: host:port');
  const servers = get<ServerConf[]>('servers', []);
  if (servers.length === 0) {
    const set = draft.values.get('servers');
    if (set === undefined) throw missing('servers', 'is missing; list at least one host:port:weight');
    throw valueError(file, set.line, draft.name, set.key, 'must list at least one host:port:weight', null);
  }
  checkServerNames(draft, servers, file);

  const tokens = get<string[]>('tokens', []);
  const dynListen = get<HostPort | null>('dynListen', null);
  const seeds = get<string[]>('dynSeeds', []);
  const pool: PoolConfig = {
    name: draft.name,
    listen,
    dynListen,
    dynSeeds: seeds,
    dynSeedProvider: get('dynSeedProvider', COMMON_DEFAULTS.dynSeedProvider),
    dynSeedsFile: get<string | null>('dynSeedsFile', COMMON_DEFAULTS.dynSeedsFile),
    dynSeedsUrl: get<string | null>('dynSeedsUrl', COMMON_DEFAULTS.dynSeedsUrl),
    dynSeedsDns: get<string | null>('dynSeedsDns', COMMON_DEFAULTS.dynSeedsDns),
    dynSeedsDnsServers: get<string[]>('dynSeedsDnsServers', []),
    seedsRefresh: get('seedsRefresh', COMMON_DEFAULTS.seedsRefresh),
    servers,
    dataStore: get('dataStore', styleDefaults.dataStore),
    tokens,
    rack: get('rack', COMMON_DEFAULTS.rack),
    datacenter: get('datacenter', COMMON_DEFAULTS.datacenter),
    hash: get('hash', styleDefaults.hash),
    hashTag: get<string | null>('hashTag', COMMON_DEFAULTS.hashTag),
    distribution: get('distribution', styleDefaults.distribution(tokens.length > 0)),
    timeout: get('timeout', styleDefaults.timeout),
    backlog: get('backlog', COMMON_DEFAULTS.backlog),
    preconnect: get('preconnect', styleDefaults.preconnect),
    autoEjectHosts: get('autoEjectHosts', styleDefaults.autoEjectHosts),
    serverRetryTimeout: get('serverRetryTimeout', styleDefaults.serverRetryTimeout),
    serverFailureLimit: get('serverFailureLimit', styleDefaults.serverFailureLimit),
    serverConnections: get('serverConnections', COMMON_DEFAULTS.serverConnections),
    mbufSize: get('mbufSize', COMMON_DEFAULTS.mbufSize),
    maxMsgs: get('maxMsgs', COMMON_DEFAULTS.maxMsgs),
    statsListen: get<HostPort>('statsListen', { ...COMMON_DEFAULTS.statsListen }),
    statsInterval: get('statsInterval', COMMON_DEFAULTS.statsInterval),
    readConsistency: get('readConsistency', COMMON_DEFAULTS.readConsistency),
    writeConsistency: get('writeConsistency', COMMON_DEFAULTS.writeConsistency),
    requirepass: get<string | null>('requirepass', COMMON_DEFAULTS.requirepass),
    clientConnections: get('clientConnections', COMMON_DEFAULTS.clientConnections),
    peerSecret: peerSecretOf(get<string | undefined>('peerSecret', undefined), get<string | null>('requirepass', COMMON_DEFAULTS.requirepass)),
    peerCompat: get('peerCompat', COMMON_DEFAULTS.peerCompat),
    maxPeerConnections: get('maxPeerConnections', COMMON_DEFAULTS.maxPeerConnections),
    maxRequestBytes: get('maxRequestBytes', COMMON_DEFAULTS.maxRequestBytes),
    clientMaxInflight: get('clientMaxInflight', COMMON_DEFAULTS.clientMaxInflight),
    clientMaxBufferedBytes: get('clientMaxBufferedBytes', COMMON_DEFAULTS.clientMaxBufferedBytes),
    clientReplyHardLimit: get('clientReplyHardLimit', COMMON_DEFAULTS.clientReplyHardLimit),
    clientReplySoftLimit: get('clientReplySoftLimit', COMMON_DEFAULTS.clientReplySoftLimit),
    clientReplySoftSeconds: get('clientReplySoftSeconds', COMMON_DEFAULTS.clientReplySoftSeconds),
    maxTxCommands: get('maxTxCommands', COMMON_DEFAULTS.maxTxCommands),
    maxTxBytes: get('maxTxBytes', COMMON_DEFAULTS.maxTxBytes),
    maxBlockingConnections: get('maxBlockingConnections', COMMON_DEFAULTS.maxBlockingConnections),
    allowKeys: get('allowKeys', COMMON_DEFAULTS.allowKeys),
    maxMemory: get('maxMemory', COMMON_DEFAULTS.maxMemory),
    pubsubScope: get('pubsubScope', COMMON_DEFAULTS.pubsubScope),
    allowFlush: get('allowFlush', COMMON_DEFAULTS.allowFlush),
    readFailover: get('readFailover', COMMON_DEFAULTS.readFailover),
    writeFailover: get('writeFailover', COMMON_DEFAULTS.writeFailover),
    maxHints: get('maxHints', COMMON_DEFAULTS.maxHints),
    maxHintBytes: get('maxHintBytes', COMMON_DEFAULTS.maxHintBytes),
    maxHintAge: get('maxHintAge', COMMON_DEFAULTS.maxHintAge),
    hintsDir: get<string | null>('hintsDir', COMMON_DEFAULTS.hintsDir),
    warmUp: get('warmUp', COMMON_DEFAULTS.warmUp),
    warmUpBatch: get('warmUpBatch', COMMON_DEFAULTS.warmUpBatch),
    warmUpPause: get('warmUpPause', COMMON_DEFAULTS.warmUpPause),
    phiThreshold: get('phiThreshold', COMMON_DEFAULTS.phiThreshold),
    repairInterval: get('repairInterval', COMMON_DEFAULTS.repairInterval),
    secureServerOption: get('secureServerOption', COMMON_DEFAULTS.secureServerOption),
    gossipInterval: get('gossipInterval', COMMON_DEFAULTS.gossipInterval),
    // Gossip is on for every cluster node unless the file says enable_gossip: false (Dynomite's default is off).
    enableGossip: get('enableGossip', dynListen !== null),
    maxNodes: get('maxNodes', COMMON_DEFAULTS.maxNodes),
    join: get('join', COMMON_DEFAULTS.join),
    handoffGrace: get('handoffGrace', COMMON_DEFAULTS.handoffGrace),
    autoCleanup: get('autoCleanup', COMMON_DEFAULTS.autoCleanup),
    dynReadTimeout: get('dynReadTimeout', COMMON_DEFAULTS.dynReadTimeout),
    dynWriteTimeout: get('dynWriteTimeout', COMMON_DEFAULTS.dynWriteTimeout),
    dynPort: get('dynPort', dynListen?.port ?? COMMON_DEFAULTS.dynPort),
    dynConnections: get('dynConnections', COMMON_DEFAULTS.dynConnections),
    localPeerConnections: get('localPeerConnections', COMMON_DEFAULTS.localPeerConnections),
    remotePeerConnections: get('remotePeerConnections', COMMON_DEFAULTS.remotePeerConnections),
    pemKeyFile: get('pemKeyFile', COMMON_DEFAULTS.pemKeyFile),
    reconKeyFile: get('reconKeyFile', COMMON_DEFAULTS.reconKeyFile),
    reconIvFile: get('reconIvFile', COMMON_DEFAULTS.reconIvFile),
    env: get('env', COMMON_DEFAULTS.env),
    connMsgRate: get('connMsgRate', COMMON_DEFAULTS.connMsgRate),
    readRepairsEnabled: get('readRepairsEnabled', COMMON_DEFAULTS.readRepairsEnabled),
    adminToken: get<string | null>('adminToken', COMMON_DEFAULTS.adminToken),
    adminReadToken: get<string | null>('adminReadToken', COMMON_DEFAULTS.adminReadToken),
    users: get<UserConf[]>('users', []),
    tlsCert: null,
    tlsKey: null,
    tlsCa: null,
    tlsClientAuth: false,
    tls: null,
    clientTls: get('clientTls', true),
    backendTls: null,
    adminTls: null,
    file,
  };
  checkKeyRelations(draft, pool, file);
  readTlsFiles(draft, pool, file);
  return pool;
}

/** `peer_secret` if given ("" means none), else requirepass: a node that makes clients log in makes peers too. */
function peerSecretOf(given: string | undefined, requirepass: string | null): string | null {
  if (given === undefined) return requirepass;
  return given === '' ? null : given;
}

/** twemproxy conf_validate_server(): two servers with one name would share ketama points. */
function checkServerNames(draft: PoolDraft, servers: ServerConf[], file: string): void {
  const set = draft.values.get('servers');
  const seen = new Map<string, number>();
  servers.forEach((server, i) => {
    const line = set?.itemLines[i] ?? draft.line;
    const first = seen.get(server.name);
    if (first !== undefined) {
      const what = `two servers are named ${JSON.stringify(server.name)} (lines ${first} and ${line}); add a distinct name after the address`;
      throw valueError(file, line, draft.name, set?.key ?? 'servers', what, null);
    }
    seen.set(server.name, line);
  });
}

function checkKeyRelations(draft: PoolDraft, pool: PoolConfig, file: string): void {
  const at = (field: DraftField, what: string) => {
    const set = draft.values.get(field);
    return valueError(file, set?.line ?? draft.line, draft.name, set?.key ?? field, what, null);
  };
  // twemproxy: "redis_auth: is only valid for a redis pool"; memcached has no AUTH to answer with.
  if (pool.requirepass !== null && pool.dataStore !== 0) {
    throw at('requirepass', 'is only valid for a redis pool (this pool is memcached)');
  }
  if (pool.distribution === 'vnode' && pool.tokens.length === 0) {
    throw at('distribution', 'vnode places keys by token, and this pool has no tokens');
  }
  if (pool.dynSeeds.length > 0 && pool.tokens.length === 0) {
    throw at('dynSeeds', 'this node has no tokens, so it would own no keys in the cluster; add tokens');
  }
  if (pool.dynSeeds.length > 0 && pool.dynListen === null) {
    throw at('dynSeeds', 'peers need this node\'s peer port; add dyn_listen');
  }
  checkDynomiteSeeds(draft, pool, file);
  checkMemcachedCompat(draft, pool, file);
}

/**
 * A memcached cluster node forwards meta commands (mg/ms/md/ma) and keeps cas replicas in step with rewrites that Dynomite's
 * memcached parser was never checked against; until that gate exists, a memcached pool peers with dynoproxy nodes only.
 */
function checkMemcachedCompat(draft: PoolDraft, pool: PoolConfig, file: string): void {
  if (pool.dataStore !== 1 || pool.dynListen === null) return;
  const set = draft.values.get('dynSeeds');
  pool.dynSeeds.forEach((text, i) => {
    if ((parseSeed(text).compat ?? pool.peerCompat) !== 'dynomite') return;
    const what = 'a memcached cluster node (data_store: 1) peers with dynoproxy nodes only: Dynomite (peer_compat=dynomite) peers are not supported for memcached yet';
    throw valueError(file, set?.itemLines[i] ?? draft.line, draft.name, set?.key ?? 'dyn_seeds', what, null);
  });
}

/**
 * With peer_secret set, the peer port still serves Dynomite nodes without the exchange (Dynomite cannot answer it), and it
 * recognises them by their address alone. So a Dynomite seed must be an IP address, and no dynoproxy seed may share it:
 * otherwise a stranger, or a dynoproxy node, would be taken for a Dynomite node.
 */
function checkDynomiteSeeds(draft: PoolDraft, pool: PoolConfig, file: string): void {
  if (pool.peerSecret === null) return;
  const set = draft.values.get('dynSeeds');
  const seeds = pool.dynSeeds.map((text) => parseSeed(text));
  const compatOf = (s: DynSeed): string => s.compat ?? pool.peerCompat;
  seeds.forEach((seed, i) => {
    if (compatOf(seed) !== 'dynomite') return;
    const line = set?.itemLines[i] ?? draft.line;
    const fail = (what: string) => valueError(file, line, draft.name, set?.key ?? 'dyn_seeds', what, null);
    if (isIP(seed.host) === 0) {
      throw fail(`the Dynomite seed ${seed.host} must be an IP address: with peer_secret set, the peer port serves Dynomite nodes (which cannot authenticate) by their address`);
    }
    const twin = seeds.find((other) => compatOf(other) !== 'dynomite' && other.host.toLowerCase() === seed.host.toLowerCase());
    if (twin !== undefined) {
      throw fail(`the Dynomite seed ${seed.host} shares its address with a dynoproxy seed: with peer_secret set, the peer port tells Dynomite nodes apart by address; give them different addresses or set peer_secret: ""`);
    }
  });
}
