// PoolRuntime: one configured pool inside one data worker: its listening socket, backends, router and clients.
// Never blocks the event loop: timeouts, ejection and reconnects run from one coarse timer per pool.
import { adapterFor } from './protocol-adapter.ts';
import net from 'node:net';
import type { PoolConfig } from '../config/index.ts';
import { RespReplyScanner, RespPartScanner, type RespLimits } from '../protocol/resp/index.ts';
import { BackendServer, type BackendHooks, type LinkTls, refreshClock, afterIo, newPeerLink } from '../io/index.ts';
import { Router, type PlacementFlavor } from './routing/router.ts';
import { RespClient } from './resp/resp-client.ts';
import { MemcacheClient } from './memcache/memcache-client.ts';
import {
  MemcacheReplyScanner,
  MemcachePartScanner,
  DEFAULT_MEMCACHE_LIMITS,
  DEFAULT_REPLY_LIMITS,
  type MemcacheLimits,
} from '../protocol/memcache/index.ts';
import type { ClientConnection } from './client-connection.ts';
import type { PoolContext, PoolSettings } from './pool-context.ts';
import { ClusterRuntime } from './routing/cluster-runtime.ts';
import { PeerClient } from './peer/peer-client.ts';
import { reportConnectionFault, reportHintsEvent, reportPeerLinkClosed } from './worker-events.ts';
import { guardListener } from './accept-guard.ts';
import { clientListener, peerListener, securePeers, peerLinkTlsOf, applyBackendTls, reloadListener } from './tls-ports.ts';
import { compileUsers } from './resp/resp-acl.ts';
import { F_AUTH } from '../protocol/failure/index.ts';
import { Hints } from './routing/hints.ts';
import { DynomiteGate } from './resp/dynomite-gate.ts';
import { READ_REPAIR } from './resp/read-repair.ts';
import { PubSubHub } from './resp/pubsub-hub.ts';
import { TrackingHub } from './resp/resp-tracking.ts';
import { respCommand } from './resp/push-reader.ts';
import { MEMCACHE_HINT_WORDS, RESP_HINT_WORDS, hintLimits } from '../hints/index.ts';
import { DYNOMITE_MBUF_HEADER_MARGIN } from '../commands/index.ts';
import type { ClusterShare } from '../messages.ts';
import type { ClusterView } from '../topology/index.ts';
import { P, LatencyRecorder, encodeHistogram } from '../stats/index.ts';

/** One pool's counters inside the worker's stats block. */
export interface PoolStatsSlots {
  pool: Float64Array;
  groups: Float64Array;
  servers: Float64Array[];
  peers: Float64Array[];
}

function settingsOf(c: PoolConfig, workers: number): PoolSettings {
  return {
    timeout: c.timeout,
    serverConnections: c.serverConnections,
    serverFailureLimit: c.serverFailureLimit,
    serverRetryTimeout: c.serverRetryTimeout,
    autoEjectHosts: c.autoEjectHosts,
    requirepass: c.requirepass,
    users: compileUsers(c.users),
    clientMaxInflight: c.clientMaxInflight,
    clientMaxBufferedBytes: c.clientMaxBufferedBytes,
    clientReplyHardLimit: c.clientReplyHardLimit,
    clientReplySoftLimit: c.clientReplySoftLimit,
    clientReplySoftSeconds: c.clientReplySoftSeconds,
    // The configured limit is for the whole process; the kernel spreads clients over workers.
    clientConnections: c.clientConnections > 0 ? Math.max(1, Math.ceil(c.clientConnections / workers)) : 0,
  };
}

/** HELLO 3 (with AUTH default <pass> when the datastore needs it): a RESP3 twin connection's first words. */
const hello3Command = (pass: string | null): Buffer => respCommand(pass === null ? ['HELLO', '3'] : ['HELLO', '3', 'AUTH', 'default', pass]);
const authCommand = (pass: string): Buffer => respCommand(['AUTH', pass]);

let nextClientId = 1;

function dynomiteAddressList(view: ClusterView): net.BlockList | null {
  const hosts = view.nodes.filter((n) => n.compat === 'dynomite' && net.isIP(n.host) !== 0).map((n) => n.host);
  if (hosts.length === 0) return null;
  const list = new net.BlockList();
  for (const h of hosts) list.addAddress(h, net.isIPv4(h) ? 'ipv4' : 'ipv6');
  return list;
}

export class PoolRuntime implements PoolContext {
  config: PoolConfig;
  settings: PoolSettings;
  readonly respLimits: RespLimits;
  /** data_store: 1 — clients and backends speak memcached. */
  readonly memcache: boolean;
  readonly memcacheLimits: MemcacheLimits;
  readonly servers: BackendServer[];
  readonly router: Router;
  private readonly listener: net.Server;
  private readonly clients = new Set<ClientConnection>();
  /** Cluster mode (dyn_listen set): the map, the links to the other nodes and the peer listener. */
  readonly cluster: ClusterRuntime | null = null;
  private readonly peerListener: net.Server | null = null;
  private readonly peerClients = new Set<ClientConnection>();
  /** Addresses of the seeds that run Dynomite: with peer_secret set, their connections are served without the exchange. */
  private readonly dynomiteAddresses: net.BlockList | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** TLS of peer links (secure_server_option at start), or null: plain. */
  private peerTls: LinkTls | null;
  private draining = false;
  private readonly hooks: BackendHooks;
  private readonly workerId: number;
  readonly st: Float64Array;
  readonly groupSt: Float64Array;
  /** Client-observed latency (µs) of requests answered by a backend. */
  readonly latency = new LatencyRecorder();
  /** Round trips to peers of this datacenter (Dynomite's cross-zone) and of other datacenters (cross-region), µs. */
  readonly crossZone = new LatencyRecorder();
  readonly crossRegion = new LatencyRecorder();

  constructor(
    config: PoolConfig,
    workerId: number,
    workers: number,
    flavor: PlacementFlavor,
    slots: PoolStatsSlots,
    share: ClusterShare | null = null,
    controlSab: SharedArrayBuffer | null = null,
  ) {
    this.workerId = workerId;
    this.peerTls = peerLinkTlsOf(config);
    this.st = slots.pool;
    this.groupSt = slots.groups;
    this.st[P.client_connections] = 0;
    this.st[P.requests_in_flight] = 0;
    this.config = config;
    this.settings = settingsOf(config, workers);
    this.respLimits = {
      maxArgs: 1024 * 1024,
      maxBulkBytes: config.maxRequestBytes,
      maxInlineBytes: 64 * 1024,
      maxRequestBytes: config.maxRequestBytes,
    };
    this.memcache = config.dataStore === 1;
    this.memcacheLimits = { ...DEFAULT_MEMCACHE_LIMITS, maxValueBytes: Math.min(config.maxRequestBytes, 0x7fffffff - 2) };
    const adapter = adapterFor(config.dataStore);
    const authLoggedAt = new Float64Array(config.servers.length);
    const hooks: BackendHooks = {
      newScanner: this.memcache ? () => new MemcacheReplyScanner({ ...DEFAULT_REPLY_LIMITS, maxValueBytes: config.maxRequestBytes }) : () => new RespReplyScanner(),
      newPartScanner: this.memcache ? () => new MemcachePartScanner({ ...DEFAULT_REPLY_LIMITS, maxValueBytes: config.maxRequestBytes }) : () => new RespPartScanner(),
      handshake: !this.memcache && config.requirepass !== null ? authCommand(config.requirepass) : null,
      resp3Handshake: this.memcache ? undefined : hello3Command(config.requirepass),
      errorReply: adapter.storageError,
      onServerStateChange: () => this.router.rebuild(),
      onConnectionFailed: (server, reason, _inFlight, _connected, failure) => {
        // A datastore refusing the proxy's AUTH is a configuration mismatch: logged by name, once per server every 30 s per worker.
        if (failure !== F_AUTH) return;
        const now = Date.now();
        if (now - authLoggedAt[server.index] < 30_000) return;
        authLoggedAt[server.index] = now;
        reportConnectionFault({ pool: this.config.name, what: 'datastore-auth-refused', code: 'DYN_ERR_AUTH', where: server.name, message: reason, stack: '' });
      },
    };
    this.hooks = hooks;
    this.servers = config.servers.map((s, i) => new BackendServer(i, s.host, s.port, s.name, s.weight, this.settings, hooks, slots.servers[i]));
    applyBackendTls(config, this.servers);
    this.router = new Router(this.servers, config.hash, config.hashTag, config.distribution, flavor);
    if (config.dynListen !== null) {
      this.cluster = this.buildCluster(config, slots, share, controlSab, workerId, workers);
      this.cluster.localRefusal = () => this.authRefusal();
      this.dynomiteAddresses = dynomiteAddressList(this.cluster.view);
      this.peerListener = peerListener(config, (sock) => {
        if (this.draining) {
          this.st[P.peer_connections_rejected_total]++;
          sock.destroy();
          return;
        }
        const pc = new PeerClient(sock, this, nextClientId++);
        this.peerClients.add(pc);
      }, () => this.st[P.peer_tls_refused_total]++);
      // The kernel spreads peer connections over the workers like client ones: each takes its share of the cap.
      this.peerListener.maxConnections = Math.max(1, Math.ceil(config.maxPeerConnections / Math.max(1, workers)));
      this.peerListener.on('drop', () => this.st[P.peer_connections_rejected_total]++);
    }
    nextClientId = workerId * 1_000_000_000 + 1;
    this.listener = clientListener(config, (sock) => this.accept(sock), () => this.st[P.tls_handshake_failures_total]++);
    this.listener.on('drop', () => this.st[P.client_rejected_total]++);
    if (this.settings.clientConnections > 0) this.listener.maxConnections = this.settings.clientConnections;
  }

  private buildCluster(
    config: PoolConfig,
    slots: PoolStatsSlots,
    share: ClusterShare | null,
    controlSab: SharedArrayBuffer | null,
    workerId: number,
    workers: number,
  ): ClusterRuntime {
    const maxPayload = Math.min(config.maxRequestBytes, 0x7fffffff);
    const runtime = new ClusterRuntime(
      () => this.config,
      share,
      controlSab,
      this.st,
      slots.peers,
      (node, sameDc, st) => {
        const link = newPeerLink(node, sameDc, this.settings, maxPayload, st, () => this.config.peerSecret, config.name, reportPeerLinkClosed, this.memcache);
        link.latency = sameDc ? this.crossZone : this.crossRegion;
        link.linkTls = this.peerTls;
        return link;
      },
      (buf, start, end) => (end > start ? this.router.serverFor(buf, start, end) : this.router.anyServer()),
    );
    // Dynomite refuses keys as long as its buffer (mbuf_size less its header): this file's mbuf_size is taken as theirs.
    if (runtime.view.hasDynomite) runtime.dynomite = new DynomiteGate(runtime, config.mbufSize - DYNOMITE_MBUF_HEADER_MARGIN - 1);
    // Hinted handoff: the process's bounds split over its hint keepers (hints/ hintLimits), each keeping the hints of its own writes.
    if (config.maxHints > 0) {
      const w = Math.max(1, workers);
      const limits = hintLimits(config, w + (runtime.view.remoteDcs.length > 0 ? 1 : 0));
      const hints = new Hints(runtime, limits, this.memcache ? MEMCACHE_HINT_WORDS : RESP_HINT_WORDS, reportHintsEvent);
      if (config.hintsDir !== null) hints.persistTo(config.hintsDir, config.name, workerId, w);
      runtime.hints = hints;
    }
    if (config.readRepairsEnabled && !this.memcache) runtime.readRepair = READ_REPAIR;
    return runtime;
  }

  /**
   * Whether a peer-port connection comes from a seed that runs Dynomite, which cannot answer our authentication exchange.
   * The config requires those seeds to be IP addresses shared with no dynoproxy seed (build-pool.ts), so the address decides.
   */
  fromDynomiteSeed(remote: string | undefined): boolean {
    const list = this.dynomiteAddresses;
    if (list === null || remote === undefined) return false;
    const v4 = remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
    return list.check(v4, net.isIPv4(v4) ? 'ipv4' : 'ipv6');
  }

  private listenOn(server: net.Server, host: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, reusePort: true, backlog: this.config.backlog }, () => {
        server.off('error', reject);
        guardListener(server, { pool: this.config.name, st: this.st, draining: () => this.draining }, { host, port, backlog: this.config.backlog });
        resolve();
      });
    });
  }

  listen(): Promise<void> {
    const { host, port } = this.config.listen;
    const dyn = this.config.dynListen;
    return Promise.all([
      this.listenOn(this.listener, host, port),
      this.peerListener !== null && dyn !== null ? this.listenOn(this.peerListener, dyn.host, dyn.port) : Promise.resolve(),
    ]).then(() => {
      // Worker 0 connects at start when the proxy must AUTH: a datastore that refuses it is named in the log before any client asks.
      if (this.config.preconnect || (this.workerId === 0 && this.hooks.handshake !== null)) for (const s of this.servers) s.preconnect();
      const period = Math.max(10, Math.min(100, this.config.timeout > 0 ? this.config.timeout / 4 : 100));
      this.timer = setInterval(() => this.tick(), period);
      this.timer.unref();
    });
  }

  private accept(sock: net.Socket): void {
    if (this.draining) {
      this.st[P.client_rejected_total]++;
      sock.destroy();
      return;
    }
    const c = this.memcache ? new MemcacheClient(sock, this, nextClientId++) : new RespClient(sock, this, nextClientId++);
    this.clients.add(c);
    this.st[P.client_connections]++;
    this.st[P.client_connections_total]++;
  }

  private hub: PubSubHub | null = null;
  private trackingHub: TrackingHub | null = null;

  tracking(): TrackingHub {
    // A peer's invalidation poll waits at most half the request timeout (its link would time it out), and 10 s.
    const t = this.config.timeout;
    this.trackingHub ??= new TrackingHub(this.memcache ? null : this.config.requirepass, Math.max(100, Math.min(10_000, t > 0 ? t / 2 : 10_000)));
    return this.trackingHub;
  }

  pubsub(): PubSubHub {
    this.hub ??= new PubSubHub(!this.memcache && this.config.requirepass !== null ? authCommand(this.config.requirepass) : null);
    return this.hub;
  }

  /** Why every server is out when it is the datastore refusing the proxy's AUTH, else null. */
  private authRefusal(): string | null {
    for (const s of this.servers) if (s.ejected && s.lastFailure === F_AUTH) return s.lastError;
    return null;
  }

  noBackendReply(): Uint8Array {
    const adapter = adapterFor(this.config.dataStore);
    const why = this.authRefusal();
    return why === null ? adapter.words.noBackend : adapter.words.noBackendBecause(why);
  }

  /** Test hook (DYNOPROXY.CRASH ACCEPT <code>): the client listener reports an accept error, as libuv would. */
  injectAcceptError(code: string): void {
    this.listener.emit('error', Object.assign(new Error(`accept ${code}`), { code, errno: 0, syscall: 'accept' }));
  }

  clientClosed(closed: object): void {
    const c = closed as ClientConnection;
    if (this.peerClients.delete(c)) return;
    if (this.clients.delete(c)) this.st[P.client_connections]--;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Sampled by the timer (process RSS against max_memory); read per request that may grow memory. */
  overMemory = false;
  private memoryCheckedAt = 0;

  private checkMemory(now: number): void {
    const max = this.config.maxMemory;
    if (max <= 0 || now - this.memoryCheckedAt < 100) return;
    this.memoryCheckedAt = now;
    const rss = process.memoryUsage.rss();
    const over = rss > max;
    if (over === this.overMemory) return;
    this.overMemory = over;
    reportConnectionFault({
      pool: this.config.name, what: over ? 'max-memory-reached' : 'max-memory-cleared', code: 'DYN_ERR_OOM', where: `worker ${this.workerId}`,
      message: `process RSS ${(rss / 1048576).toFixed(0)} MiB ${over ? '>' : '<='} max_memory ${(max / 1048576).toFixed(0)} MiB: ${over ? 'commands that may grow memory get -OOM' : 'served again'}`, stack: '',
    });
  }

  private tick(): void {
    const now = refreshClock();
    this.checkMemory(now);
    let changed = false;
    for (const s of this.servers) {
      s.checkTimeouts(now);
      if (s.maybeUneject(now)) changed = true;
      if (this.config.preconnect && !s.ejected) s.preconnect();
    }
    if (this.cluster !== null) {
      for (const s of this.cluster.allLinks()) {
        s.checkTimeouts(now);
        if (this.config.preconnect) s.preconnect();
      }
      this.cluster.hints?.tick(now);
    }
    if (changed) this.router.rebuild();
    afterIo();
  }

  /** SIGHUP: take the settings that can change without moving data. */
  reload(config: PoolConfig, workers: number): void {
    // A new requirepass: new backend connections authenticate with it (open ones stay authenticated, as Redis keeps its clients).
    if (!this.memcache) this.hooks.handshake = config.requirepass !== null ? authCommand(config.requirepass) : null;
    this.config = { ...config, servers: this.config.servers, hash: this.config.hash, hashTag: this.config.hashTag, distribution: this.config.distribution };
    const s = settingsOf(config, workers);
    Object.assign(this.settings, s);
    // New certificates for connections made from now on (client and peer ports, datastore and peer links).
    reloadListener(this.listener, config.clientTls ? config.tls : null, config.tlsClientAuth);
    if (this.peerListener !== null) reloadListener(this.peerListener, securePeers(config) ? config.tls : null, true);
    applyBackendTls(config, this.servers);
    // Peer links keep the mode they started with (the peer ports do too, until a restart); only their certificates move.
    if (this.peerTls !== null) this.peerTls = peerLinkTlsOf(this.config) ?? this.peerTls;
    if (this.cluster !== null) for (const l of this.cluster.allLinks()) l.linkTls = this.peerTls;
  }

  /** Stop accepting, answer what is in flight, close clients; resolves when every client is gone or at the deadline. */
  drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    this.listener.close();
    this.peerListener?.close();
    for (const c of this.peerClients) c.socket.destroy();
    if (this.cluster !== null) for (const s of this.cluster.allLinks()) s.close();
    this.hub?.close();
    this.trackingHub?.close();
    for (const c of this.clients) c.drainAndClose();
    const until = refreshClock() + deadlineMs;
    return new Promise((resolve) => {
      const check = (): void => {
        // A client that got every answer need not close its side: drained means nothing left to write.
        let busy = false;
        for (const c of this.clients) if (c.queued > 0 || c.socket.writableLength > 0) busy = true;
        if (!busy || refreshClock() > until) {
          for (const c of this.clients) c.socket.destroy();
          if (this.timer !== null) clearInterval(this.timer);
          for (const s of this.servers) s.close();
          resolve();
          return;
        }
        setTimeout(check, 20);
      };
      check();
    });
  }

  /** Cross-zone and cross-region round-trip histograms, encoded like latencySnapshot. */
  crossSnapshot(reset: boolean): [string, string] {
    const out: [string, string] = ['', ''];
    [this.crossZone, this.crossRegion].forEach((r, i) => {
      const h = r.flush();
      out[i] = encodeHistogram(h);
      if (reset) h.reset();
    });
    return out;
  }

  /** The latency histogram in HdrHistogram's compressed base64 form (merged by the supervisor), then reset if asked. */
  latencySnapshot(reset: boolean): string {
    const h = this.latency.flush();
    const enc = encodeHistogram(h);
    if (reset) h.reset();
    return enc;
  }
}
