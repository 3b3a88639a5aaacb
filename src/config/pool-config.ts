// The shape of a loaded configuration: one PoolConfig per top-level pool, plain data only.
// Must never hold functions, class instances or Maps, so it can be posted to workers as is.

import type { UserConf } from './parse-user.ts';
import type { HashName } from '../topology/index.ts';

/** A socket address to listen on or connect to; IPv6 hosts are stored without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * A backend datastore, written `host:port:weight [name]` as in twemproxy and Dynomite.
 * `name` is what ketama hashes. When it is not given it is `host:port` exactly as written, or only
 * `host` when the port is 11211: twemproxy src/nc_conf.c conf_add_server() (and Dynomite
 * src/dyn_conf.c, which copied it) drop the port for 11211 "to maintain backward compatibility with
 * libmemcached", and src/hashkit/nc_ketama.c ketama_update() hashes `"<name>-<n>"` per point.
 */
export interface ServerConf {
  host: string;
  port: number;
  weight: number;
  name: string;
}

/** One `dyn_seeds` entry, `host:port:rack:dc:tokens [name]` (Dynomite conf_add_dyn_server()). */
export interface DynSeed {
  host: string;
  port: number;
  rack: string;
  datacenter: string;
  tokens: string[];
  name: string | null;
  /** `peer_compat=...` written after the address; null: the pool's `peer_compat`. */
  compat: PeerCompat | null;
}

/**
 * What a peer node runs: `dynoproxy` (our own peer protocol: authentication, every keyed command) or `dynomite`
 * (a Dynomite node: no authentication exchange, and only what its request parser accepts is sent to it).
 */
export type PeerCompat = 'dynoproxy' | 'dynomite';
export const PEER_COMPATS: readonly PeerCompat[] = ['dynoproxy', 'dynomite'];

export type Consistency = 'DC_ONE' | 'DC_QUORUM' | 'DC_SAFE_QUORUM' | 'DC_EACH_SAFE_QUORUM';
export const CONSISTENCIES: readonly Consistency[] = [
  'DC_ONE',
  'DC_QUORUM',
  'DC_SAFE_QUORUM',
  'DC_EACH_SAFE_QUORUM',
];

/** The 13 hash names of Dynomite's HASH_CODEC; topology owns the list and the functions. */
export type { HashName } from '../topology/index.ts';

export type Distribution = 'ketama' | 'modula' | 'random' | 'vnode';
export const DISTRIBUTIONS: readonly Distribution[] = ['ketama', 'modula', 'random', 'vnode'];

export type SecureServerOption = 'none' | 'rack' | 'datacenter' | 'all';
export const SECURE_SERVER_OPTIONS: readonly SecureServerOption[] = ['none', 'rack', 'datacenter', 'all'];

/** Dynomite's data_store codes: 0 redis, 1 memcached. */
export type DataStore = 0 | 1;

/** Which program's defaults filled the gaps: see pool-defaults.ts. */
export type ConfigStyle = 'dynomite' | 'twemproxy';

export interface PoolConfig {
  /** The top-level key, e.g. `dyn_o_mite`. */
  name: string;
  listen: HostPort;
  /** Peer port; null when the file has no `dyn_listen`. */
  dynListen: HostPort | null;
  /** `host:port:rack:dc:tokens [name]` entries as written; parse one with parseSeed(). */
  dynSeeds: string[];
  dynSeedProvider: string;
  /** A file of seeds (one per line, as dyn_seeds), re-read when it changes; null: none. */
  dynSeedsFile: string | null;
  /** florida_provider's endpoint (default from DYNOMITE_FLORIDA_IP / _PORT / _REQUEST); null: that default. */
  dynSeedsUrl: string | null;
  /** dns_provider's name (TXT records, one seed each; default DYNOMITE_DNS_NAME); null: that default. */
  dynSeedsDns: string | null;
  /** Resolvers for dns_provider (host or host:port); empty: the system's. */
  dynSeedsDnsServers: string[];
  /** How often florida_provider and dns_provider ask again, ms (seeds_refresh). */
  seedsRefresh: number;
  /** At least one. */
  servers: ServerConf[];
  dataStore: DataStore;
  /** This node's tokens as written (decimal strings; Dynomite writes them comma separated). */
  tokens: string[];
  rack: string;
  datacenter: string;
  hash: HashName;
  /** Exactly two bytes (open, close), or null. */
  hashTag: string | null;
  distribution: Distribution;
  /** Request timeout in ms; 0 means none, as `timeout: 0` does in twemproxy. */
  timeout: number;
  /** listen(2) backlog. */
  backlog: number;
  preconnect: boolean;
  autoEjectHosts: boolean;
  /** ms before an ejected server is tried again. */
  serverRetryTimeout: number;
  /** Consecutive failures that eject a server (when autoEjectHosts). */
  serverFailureLimit: number;
  /** Connections per backend server (`server_connections`, or Dynomite's `datastore_connections`). */
  serverConnections: number;
  mbufSize: number;
  maxMsgs: number;
  statsListen: HostPort;
  /** Stats aggregation period, ms. */
  statsInterval: number;
  readConsistency: Consistency;
  writeConsistency: Consistency;
  /** Password clients must AUTH with (`requirepass`, Dynomite `redis_requirepass`, twemproxy `redis_auth`). */
  requirepass: string | null;
  /** Secret peers prove they know before the peer port serves them (`peer_secret`, default requirepass); null = none. */
  peerSecret: string | null;
  /** What the seeds run unless a seed says otherwise (`peer_compat=` after its address). */
  peerCompat: PeerCompat;
  /** Connections the peer port accepts at once, per process (split over the data workers). */
  maxPeerConnections: number;
  /** Max client connections; 0 = unlimited by config. */
  clientConnections: number;
  /** Largest single request accepted, bytes. */
  maxRequestBytes: number;
  /** Per-client requests in flight before reading pauses. */
  clientMaxInflight: number;
  /** Per-client buffered request/reply bytes before reading pauses. */
  clientMaxBufferedBytes: number;
  /** Redis' client-output-buffer-limit for normal clients, ours by default: unsent replies past the hard limit disconnect the client at once, past the soft one for soft seconds too. 0: no limit. */
  clientReplyHardLimit: number;
  clientReplySoftLimit: number;
  clientReplySoftSeconds: number;
  /** Commands one MULTI transaction may queue (in the proxy, and in a peer's MULTI block). */
  maxTxCommands: number;
  /** Bytes of queued commands one MULTI transaction may hold. */
  maxTxBytes: number;
  /** Where PUBLISH reaches subscribers on a cluster node: every node of this datacenter ('dc') or of the cluster ('cluster'). */
  pubsubScope: 'dc' | 'cluster';
  /** Process RSS in bytes past which commands that may grow memory get -OOM (Redis' denyoom set; memcached storage): 0 = no limit. */
  maxMemory: number;
  /** KEYS and RANDOMKEY over every backend of the rack (off: refused with the reason; SCAN works either way). */
  allowKeys: boolean;
  /** FLUSHALL / FLUSHDB to every backend of every rack (off: refused with the reason). */
  allowFlush: boolean;
  /** Blocking calls (BLPOP ...) in flight per datastore server and data worker, each on a connection of its own; past it: -ERR at once. */
  maxBlockingConnections: number;
  /** Cluster nodes: a read whose owner is down (or whose datastore is) is retried on the next replica, within the timeout. */
  readFailover: boolean;
  /** Cluster nodes: a DC_ONE write whose local owner is down is stored by the next local rack and hinted for the owner. */
  writeFailover: boolean;
  /** Hinted handoff (per process, split over the data workers): undelivered replica writes kept for their target. 0: off. */
  maxHints: number;
  /** Bytes of request data the hints may hold, per process. */
  maxHintBytes: number;
  /** Age past which a hint is dropped, ms. */
  maxHintAge: number;
  /** Where hints are appended to disk (one file per worker per target); null: memory only. */
  hintsDir: string | null;
  /** Warm-up (cluster/warm-up.ts): an empty datastore copies its token range from a peer rack by itself (`warm_up`); off: only /state/warm_up. */
  warmUp: boolean;
  /** Keys per SCAN step of a warm-up copy (`warm_up_batch`). */
  warmUpBatch: number;
  /** ms between a warm-up copy's steps (`warm_up_pause`): the throttle that keeps the serving rack's latency. */
  warmUpPause: number;
  /** Seconds between anti-entropy repairs (cluster/repair.ts) of this node's range, started by the cluster worker (`repair_interval`; 0 off). */
  repairInterval: number;
  /** Failure detector: phi above which a silent peer is marked down (cluster/failure-detector.ts). */
  phiThreshold: number;
  secureServerOption: SecureServerOption;
  /** Gossip round period, ms (`gos_interval`). */
  gossipInterval: number;
  enableGossip: boolean;
  /** Most nodes the cluster may hold (max_nodes): bounds the topology table and gossip. */
  maxNodes: number;
  /** A new node (join: true) announces itself joining and copies its range from its rack before it serves it. */
  join: boolean;
  /** After tokens move (a join done, a node gone), ms during which writes of the moved ranges still go to both sides (handoff_grace). */
  handoffGrace: number;
  /** The old owner deletes the keys it handed over once the grace is past (auto_cleanup; else only on POST /cleanup). */
  autoCleanup: boolean;
  /** Peer read/write timeouts, ms. */
  dynReadTimeout: number;
  dynWriteTimeout: number;
  dynPort: number;
  /** Connections to each peer (older Dynomite `dyn_connections`). */
  dynConnections: number;
  /** Connections to each peer in this datacenter / in other datacenters (newer Dynomite). */
  localPeerConnections: number;
  remotePeerConnections: number;
  pemKeyFile: string;
  reconKeyFile: string;
  reconIvFile: string;
  /** Dynomite's environment marker (aws, network...). */
  env: string;
  /** Messages per second per connection. */
  connMsgRate: number;
  readRepairsEnabled: boolean;
  /** Bearer token for the admin API (our own key `admin_token`); null = admin API unauthenticated. */
  adminToken: string | null;
  /** Users besides the default one (`users:`, our key, RESP pools): AUTH name password, allowed categories and key patterns. */
  users: readonly UserConf[];
  /** Bearer token the admin API's read endpoints require (our key `admin_read_token`; admin_token is taken too); null = reads open. */
  adminReadToken: string | null;
  /** Paths as written (resolved against the file's directory): `tls_cert`, `tls_key`, `tls_ca`; null when absent. */
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  /** Clients must present a certificate that chains to tls_ca (`tls_client_auth`). */
  tlsClientAuth: boolean;
  /** The files' contents: the client port speaks TLS when non-null (unless clientTls is false), peers under secure_server_option. */
  tls: TlsMaterial | null;
  /** `client_tls: false`: the client port stays plain although tls_cert is set (for peers or admin only). */
  clientTls: boolean;
  /** `backend_tls: true` (+ backend_tls_ca, backend_tls_servername, backend_tls_cert/key): TLS to the datastores; null: plain. */
  backendTls: BackendTlsConf | null;
  /** `admin_tls`: the admin/stats port serves HTTPS with tls_cert (or admin_tls_cert/key). */
  adminTls: TlsMaterial | null;
  /** The configuration file this pool came from. */
  file: string;
}

/** PEM text of a pool's TLS files, read when the file is loaded (and again on SIGHUP), so workers never touch the disk. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** Certificates that client certificates (tls_client_auth) and peers' certificates (secure_server_option) must chain to. */
  ca: string | null;
}

/** How the pool talks to its datastores over TLS (`backend_tls`). */
export interface BackendTlsConf {
  /** CA the datastore's certificate must chain to; null: the system's roots. */
  ca: string | null;
  /** Name the datastore's certificate must carry (and SNI); null: the server's host. */
  servername: string | null;
  /** Client certificate for datastores that require one (Redis' tls-auth-clients yes): backend_tls_cert/key, else tls_cert/key. */
  cert: string | null;
  key: string | null;
}

export interface LoadedConfig {
  pools: PoolConfig[];
  warnings: string[];
  style: ConfigStyle;
}
