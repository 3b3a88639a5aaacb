// Default values for every pool setting, per style, each traced to the source it copies.
// Must never compute from the environment (time, hostname, env vars): defaults are data.
//
// Sources (read through the search tool):
//   D = Netflix/dynomite src/dyn_conf.c (the version with stats_listen, mbuf_size, max_msgs,
//       datastore/local_peer/remote_peer_connections), its CONF_DEFAULT_* macros and
//       conf_validate_pool(); src/dyn_mbuf.h MBUF_SIZE; src/dyn_message.h ALLOC_MSGS.
//   T = twitter/twemproxy src/nc_conf.h CONF_DEFAULT_* and src/nc_conf.c conf_validate_pool().

import type { Distribution, DataStore, HashName, HostPort, SecureServerOption, Consistency, PeerCompat } from './pool-config.ts';

/** The settings whose defaults differ between a Dynomite file and a nutcracker.yml. */
export interface StyleDefaults {
  hash: HashName;
  /** Distribution when the file names none; `withTokens` says whether the pool has `tokens`. */
  distribution: (withTokens: boolean) => Distribution;
  timeout: number;
  dataStore: DataStore;
  preconnect: boolean;
  autoEjectHosts: boolean;
  serverRetryTimeout: number;
  serverFailureLimit: number;
}

export const DYNOMITE_DEFAULTS: StyleDefaults = {
  hash: 'murmur', // D: CONF_DEFAULT_HASH HASH_MURMUR
  // D: CONF_DEFAULT_DIST DIST_VNODE, but vnode routes by tokens; a standalone pool without tokens
  // spreads keys over its servers the way twemproxy would, with ketama.
  distribution: (withTokens) => (withTokens ? 'vnode' : 'ketama'),
  timeout: 5000, // D: CONF_DEFAULT_TIMEOUT 5000
  dataStore: 0, // D: CONF_DEFAULT_DATASTORE DATA_REDIS
  preconnect: true, // D: CONF_DEFAULT_PRECONNECT true
  autoEjectHosts: true, // D: CONF_DEFAULT_AUTO_EJECT_HOSTS true
  serverRetryTimeout: 10_000, // D: CONF_DEFAULT_SERVER_RETRY_TIMEOUT 10 * 1000
  serverFailureLimit: 3, // D: CONF_DEFAULT_SERVER_FAILURE_LIMIT 3 (2 in Dynomite before 0.6)
};

export const TWEMPROXY_DEFAULTS: StyleDefaults = {
  hash: 'fnv1a_64', // T: CONF_DEFAULT_HASH HASH_FNV1A_64
  distribution: () => 'ketama', // T: CONF_DEFAULT_DIST DIST_KETAMA
  // T: CONF_DEFAULT_TIMEOUT -1, wait forever. We choose Dynomite's 5000 ms instead: with
  // auto_eject_hosts off (twemproxy's default) a timeout is the only thing that notices a backend
  // that vanished without a RST, and a proxy that waits forever pins client memory behind it.
  // `timeout: 0` still means "no timeout", as in twemproxy.
  timeout: 5000,
  dataStore: 1, // T: CONF_DEFAULT_REDIS false, i.e. a memcached pool unless `redis: true`
  preconnect: false, // T: CONF_DEFAULT_PRECONNECT false
  autoEjectHosts: false, // T: CONF_DEFAULT_AUTO_EJECT_HOSTS false
  serverRetryTimeout: 30_000, // T: CONF_DEFAULT_SERVER_RETRY_TIMEOUT 30 * 1000
  serverFailureLimit: 2, // T: CONF_DEFAULT_SERVER_FAILURE_LIMIT 2
};

/** Settings with one default whatever the style (twemproxy lacks most of them). */
export const COMMON_DEFAULTS = {
  backlog: 512, // D and T: CONF_DEFAULT_LISTEN_BACKLOG 512
  clientConnections: 0, // D and T: CONF_DEFAULT_CLIENT_CONNECTIONS 0 (both then force it; we honour the key)
  serverConnections: 1, // T: CONF_DEFAULT_SERVER_CONNECTIONS 1; D: CONF_DEFAULT_CONNECTIONS 1 for datastore_connections
  hashTag: null,
  dynSeedProvider: 'simple_provider', // D: CONF_DEFAULT_SEED_PROVIDER
  rack: 'localrack', // D: CONF_DEFAULT_RACK
  datacenter: 'localdc', // D: CONF_DEFAULT_DC
  dynReadTimeout: 10_000, // D: CONF_DEFAULT_DYN_READ_TIMEOUT
  dynWriteTimeout: 10_000, // D: CONF_DEFAULT_DYN_WRITE_TIMEOUT
  // D has no default for dyn_port; 8101 is the port Dynomite's docs and sample files use for it
  // (DynomiteDB docs "dyn_port: default 8101"). A given dyn_listen supplies its own port instead.
  dynPort: 8101,
  dynConnections: 100, // D: CONF_DEFAULT_DYN_CONNECTIONS
  localPeerConnections: 1, // D: CONF_DEFAULT_CONNECTIONS
  remotePeerConnections: 1, // D: CONF_DEFAULT_CONNECTIONS
  gossipInterval: 30_000, // D: CONF_DEFAULT_GOS_INTERVAL
  enableGossip: false, // D: CONF_UNSET_BOOL false, left as is by conf_validate_pool()
  connMsgRate: 50_000, // D: CONF_DEFAULT_CONN_MSG_RATE
  mbufSize: 16_384, // D: MBUF_SIZE in dyn_mbuf.h (twemproxy's NC_MBUF_SIZE is the same)
  maxMsgs: 200_000, // D: ALLOC_MSGS in dyn_message.h
  statsInterval: 30_000, // D: CONF_DEFAULT_STATS_INTERVAL_MS
  // D: CONF_DEFAULT_STATS_PNAME "0.0.0.0:22222". Ours binds loopback: the admin port can change
  // the node's state, so exposing it must be a decision written in the file.
  statsListen: { host: '127.0.0.1', port: 22222 } satisfies HostPort,
  readConsistency: 'DC_ONE' satisfies Consistency, // D: conf_validate_pool() sets CONF_STR_DC_ONE
  writeConsistency: 'DC_ONE' satisfies Consistency,
  secureServerOption: 'none' satisfies SecureServerOption, // D: CONF_DEFAULT_SECURE_SERVER_OPTION
  env: 'aws', // D: CONF_DEFAULT_ENV
  pemKeyFile: 'conf/dynomite.pem', // D: PEM_KEY_FILE
  reconKeyFile: 'conf/recon_key.pem', // D: RECON_KEY_FILE
  reconIvFile: 'conf/recon_iv.pem', // D: RECON_IV_FILE
  readRepairsEnabled: false, // D (later dyn_core.c reads pool.read_repairs_enabled, off unless set)
  requirepass: null,
  // Ours: every seed is a dynoproxy node unless the file says it runs Dynomite.
  peerCompat: 'dynoproxy' satisfies PeerCompat,
  // Ours: each node opens (workers x connections + 1) links to every other node; 1024 covers ~100 nodes of 4 workers.
  maxPeerConnections: 1024,
  adminToken: null,
  adminReadToken: null,
  users: [],
  // Ours. Redis' own proto-max-bulk-len default is 512 MiB: a request Redis would take, we take.
  maxRequestBytes: 512 * 1024 * 1024,
  // Ours. Bounds what one pipelining client can make the proxy hold before its reads pause.
  clientMaxInflight: 10_000,
  clientMaxBufferedBytes: 64 * 1024 * 1024,
  // Ours (issue "security" part 5): a client that does not read its replies cannot grow the process without bound.
  clientReplyHardLimit: 256 * 1024 * 1024,
  clientReplySoftLimit: 128 * 1024 * 1024,
  clientReplySoftSeconds: 60,
  // Ours. A transaction is held whole in the proxy until EXEC: bounded like a pipelining client.
  maxTxCommands: 10_000,
  maxTxBytes: 64 * 1024 * 1024,
  // Ours (issue "command surface"): each blocking call holds a backend connection of its own while it blocks.
  maxBlockingConnections: 512,
  maxNodes: 1024,
  dynSeedsFile: null,
  dynSeedsUrl: null,
  dynSeedsDns: null,
  seedsRefresh: 30_000,
  join: false,
  handoffGrace: 30_000,
  autoCleanup: true,
  // Ours: whole-keyspace commands that are costly (KEYS) or destructive (FLUSHALL) are opt-in.
  allowKeys: false,
  // Ours (issue "security" part 5): off by default, as Redis' maxmemory.
  maxMemory: 0,
  pubsubScope: 'dc' as 'dc' | 'cluster',
  allowFlush: false,
  // Ours (issue "availability"): a read whose owner is down is retried on the next replica. false: Dynomite's exact behaviour.
  readFailover: true,
  // Ours: a DC_ONE write whose owner is down is taken by the next local rack and hinted for the owner (needs hints: max_hints > 0).
  writeFailover: true,
  // Ours (issue "availability"): hinted handoff bounds for the process (split over the data workers); no hints_dir: memory only.
  maxHints: 1_000_000,
  maxHintBytes: 256 * 1024 * 1024,
  maxHintAge: 3 * 3600 * 1000,
  hintsDir: null,
  // Ours (issue "availability" part 4): an empty node copies its range from a peer rack; batch and pause measured in BENCHMARKS.md.
  warmUp: true,
  warmUpBatch: 256,
  warmUpPause: 6, // measured: keeps the source node's client p99 within 2x during a 1M-key copy (BENCHMARKS.md)
  // Ours (issue "availability" part 5): seconds between anti-entropy repairs of the node's range (0: only POST /repair).
  repairInterval: 0,
  // Ours: phi-accrual suspicion above which a silent peer is down (with the heartbeat clamped to 100..1000 ms: about 3 s).
  phiThreshold: 8,
} as const;
