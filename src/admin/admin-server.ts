// AdminServer: the HTTP admin and stats API on stats_listen (Dynomite's endpoints, /metrics, /dashboard, /events), on node:http in the main thread.
// Never lets a request change the node without authorisation when it is reachable off loopback, nor by GET without a token (a web page
// can make a browser send GETs), nor on a loopback bind to a Host that is not loopback (DNS rebinding); never reads a request body.
//
// Why node:http and not uWebSockets.js: the official package is not on the npm registry; the registry
// copies either need glibc 2.38 (this Debian 12 has 2.36) or have no binary for Node 24's ABI (137)
// and silently fall back to a pure-JS server. See README "Admin HTTP server".
import { isLoopbackHost } from '../config/index.ts';
import http from 'node:http';
import https from 'node:https';
import { serverContextOptions, TLS_HANDSHAKE_TIMEOUT_MS } from '../io/index.ts';
import type { TlsMaterial } from '../config/index.ts';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Histogram } from '../stats/index.ts';
import { newLatencyHistogram, POOL_METRICS, SERVER_METRICS, WORKER_METRICS, NODE_METRICS } from '../stats/index.ts';
import type { AdminHost } from './admin-host.ts';
import { NodeControl } from './node-control.ts';
import { RateLimiter, type RateLimit } from './rate-limiter.ts';
import { infoBody, clusterDescribeBody } from './info-body.ts';
import { planRing } from '../topology/index.ts';
import { metricsText } from './prometheus-text.ts';
import { LiveFeed } from './live-feed.ts';
import { DASHBOARD_HTML } from './dashboard-page.ts';
import { route, repairStart, HELP_TEXT, type Action } from './admin-routes.ts';

export interface AdminServerOptions {
  rate?: RateLimit;
  /** How long a merged latency histogram is reused by /info and /metrics (coalesces scrapes). */
  latencyCacheMs?: number;
  feedPeriodMs?: number;
}

const MAX_URL = 2048;
const MAX_BODY = 1024;
const OK = 'OK\r\n';
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** DYNOPROXY_ADMIN_RATE="perSecond[:burst]" overrides the per-address limit (benchmarks). */
function rateFromEnv(): RateLimit | null {
  const v = process.env['DYNOPROXY_ADMIN_RATE'];
  if (v === undefined || v === '') return null;
  const [a, b] = v.split(':').map(Number);
  if (!(a > 0)) return null;
  return { perSecond: a, burst: b > 0 ? b : a * 2 };
}

export { isLoopbackHost };

export class AdminServer {
  private readonly host: AdminHost;
  readonly control: NodeControl;
  private readonly feed: LiveFeed;
  private readonly server: http.Server | https.Server;
  /** http, or https with admin_tls: what the hints in replies tell curl. */
  private readonly scheme: 'http' | 'https';
  private readonly limiter: RateLimiter;
  private readonly token: Buffer | null;
  private readonly readToken: Buffer | null;
  /** Host header values a loopback bind answers (lower case, with the port); null = no check (off-loopback binds rely on tokens). */
  private hostNames: Set<string> | null = null;
  private readonly loopbackOnly: boolean;
  private readonly latencyCacheMs: number;
  private latencyCache: { at: number; value: Promise<Histogram[]> } | null = null;
  private readonly scratch = newLatencyHistogram();
  requests = 0;
  rejected = 0;

  constructor(host: AdminHost, opts: AdminServerOptions = {}) {
    this.host = host;
    this.control = new NodeControl(host);
    this.feed = new LiveFeed(host, this.control, opts.feedPeriodMs ?? 1000);
    this.limiter = new RateLimiter(rateFromEnv() ?? opts.rate ?? { perSecond: 200, burst: 400 });
    this.latencyCacheMs = opts.latencyCacheMs ?? 200;
    const pools = host.loadedConfig.pools;
    const first = pools[0];
    const token = first?.adminToken ?? null;
    this.token = token === null ? null : Buffer.from(token, 'utf8');
    const readToken = first?.adminReadToken ?? null;
    this.readToken = readToken === null ? null : Buffer.from(readToken, 'utf8');
    this.loopbackOnly = first === undefined || isLoopbackHost(first.statsListen.host);
    for (const p of pools.slice(1)) {
      if (p.statsListen.host !== first?.statsListen.host || p.statsListen.port !== first.statsListen.port || p.adminToken !== first.adminToken || p.adminReadToken !== first.adminReadToken) {
        host.log.warn({ pool: p.name }, `one admin API per process: ${p.name}.stats_listen, admin_token and admin_read_token are ignored, ${first?.name}'s are used`);
      }
    }
    if (!this.loopbackOnly && this.token === null) {
      host.log.warn('stats_listen is not a loopback address and admin_token is not set: state-changing admin endpoints are refused');
    }
    const httpOpts = { maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 };
    // admin_tls: HTTPS with the pool's tls_cert (TLS 1.2 at least); the certificate follows SIGHUP like the client port's.
    const tlsConf = first?.adminTls ?? null;
    this.scheme = tlsConf === null ? 'http' : 'https';
    this.server = tlsConf === null
      ? http.createServer(httpOpts, (req, res) => this.handle(req, res))
      : https.createServer({ ...httpOpts, ...serverContextOptions(tlsConf), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (req, res) => this.handle(req, res));
    this.server.maxConnections = 128;
  }

  listen(): Promise<AddressInfo> {
    const l = this.host.loadedConfig.pools[0]?.statsListen ?? { host: '127.0.0.1', port: 22222 };
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: l.host, port: l.port }, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        if (this.loopbackOnly) this.hostNames = loopbackHostNames(l.host, a.port);
        this.host.log.info({ admin: `${a.address}:${a.port}` }, 'admin API listening');
        resolve(a);
      });
    });
  }

  /** SIGHUP: the admin port's new certificate for new connections (HTTPS on or off needs a restart). */
  reloadTls(conf: TlsMaterial | null): void {
    if (conf !== null && this.server instanceof https.Server) this.server.setSecureContext(serverContextOptions(conf));
  }

  close(): Promise<void> {
    this.feed.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Merged latency, shared by the scrapes of the next latencyCacheMs: each round asks every worker to encode its histograms. */
  private latency(): Promise<Histogram[]> {
    const now = Date.now();
    const c = this.latencyCache;
    if (c !== null && now - c.at < this.latencyCacheMs) return c.value;
    const value = this.host.latency(false);
    this.latencyCache = { at: now, value };
    return value;
  }

  private reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string, type = TEXT, extra: Record<string, string> = {}): void {
    if (status >= 400) this.rejected++;
    const b = Buffer.from(body, 'utf8');
    res.writeHead(status, { 'content-type': type, 'content-length': b.length, 'cache-control': 'no-store', ...extra });
    res.end(req.method === 'HEAD' ? undefined : b);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    if (!this.limiter.take(req.socket.remoteAddress ?? '?', Date.now())) {
      return this.reply(req, res, 429, 'ERR too many admin requests; slow down\r\n', TEXT, { 'retry-after': '1' });
    }
    if (url.length > MAX_URL) return this.reply(req, res, 414, 'ERR request line too long\r\n');
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > MAX_BODY || (req.headers['transfer-encoding'] !== undefined && length === 0 && req.method !== 'GET')) {
      res.setHeader('connection', 'close');
      return this.reply(req, res, 413, 'ERR the admin API takes no request body\r\n');
    }
    req.resume();
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return this.reply(req, res, 405, 'ERR use GET (or POST for changes)\r\n', TEXT, { allow: 'GET, HEAD, POST' });
    if (!this.hostAllowed(req, res)) return;
    const [path, query = ''] = url.split('?', 2);
    let action = route(path, query);
    if (action.kind === 'repair' && method === 'POST') action = repairStart(query);
    if (action.kind === 'error') return this.reply(req, res, action.status, `ERR ${action.message}\r\n`);
    if (action.mutates) {
      if (!this.changeAllowed(req, res, method, path)) return;
    } else if (this.readToken !== null && action.kind !== 'ping' && action.kind !== 'dashboard' && !this.readAllowed(req)) {
      return this.reply(req, res, 401, 'ERR admin_read_token is set: send Authorization: Bearer <admin_read_token> (or <admin_token>)\r\n', TEXT, {
        'www-authenticate': 'Bearer realm="dynoproxy"',
      });
    }
    this.requests++;
    this.run(action, req, res).catch((err: Error) => {
      this.host.log.error({ err: err.message, path }, 'admin request failed');
      if (!res.headersSent) this.reply(req, res, 500, `ERR ${err.message}\r\n`);
      else res.end();
    });
  }

  /** On a loopback bind, only loopback names reach the API: a rebinding DNS name (evil.example -> 127.0.0.1) carries its own Host. */
  private hostAllowed(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const names = this.hostNames;
    const h = req.headers.host;
    // No Host at all is not a browser (HTTP/1.0 tools); node:http refuses an HTTP/1.1 request without one.
    if (names === null || h === undefined || names.has(h.toLowerCase())) return true;
    const port = (this.server.address() as AddressInfo | null)?.port ?? 0;
    this.reply(req, res, 403, `ERR Host ${JSON.stringify(h.slice(0, 100))} is not a loopback name of this admin API (DNS rebinding is refused): use 127.0.0.1:${port}, localhost:${port} or [::1]:${port}\r\n`);
    return false;
  }

  /**
   * A change needs POST (or a GET carrying the admin_token: a page cannot make a browser add Authorization without a CORS preflight,
   * which this server never grants), and no browser's word that it came from another site.
   */
  private changeAllowed(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string): boolean {
    if (method !== 'POST' && !(this.token !== null && bearerMatches(req, this.token))) {
      const port = (this.server.address() as AddressInfo | null)?.port ?? 0;
      this.reply(req, res, 405, `ERR ${path} changes the node: use POST, e.g. curl -X POST ${this.scheme}://127.0.0.1:${port}${path}\r\n`, TEXT, { allow: 'POST' });
      return false;
    }
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if ((origin !== undefined && !sameOrigin(origin, req.headers.host)) || site === 'cross-site' || site === 'same-site') {
      this.reply(req, res, 403, 'ERR a cross-origin request cannot change the node\r\n');
      return false;
    }
    return this.authorised(req, res);
  }

  private readAllowed(req: http.IncomingMessage): boolean {
    return (this.readToken !== null && bearerMatches(req, this.readToken)) || (this.token !== null && bearerMatches(req, this.token));
  }

  private authorised(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (this.token !== null) {
      if (bearerMatches(req, this.token)) return true;
      this.reply(req, res, 401, 'ERR this endpoint changes the node: send Authorization: Bearer <admin_token>\r\n', TEXT, { 'www-authenticate': 'Bearer realm="dynoproxy"' });
      return false;
    }
    if (this.loopbackOnly) return true;
    this.reply(req, res, 403, 'ERR state changes are refused: stats_listen is not a loopback address and admin_token is not set\r\n');
    return false;
  }

  private async run(a: Action, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const ctl = this.control;
    switch (a.kind) {
      case 'info': {
        const latency = await this.latency();
        return this.reply(req, res, 200, infoBody({ host: this.host, control: ctl, latency, scratch: this.scratch, statsCount: this.requests }), JSON_TYPE);
      }
      case 'help':
        return this.reply(req, res, 200, HELP_TEXT);
      case 'ping':
        return this.reply(req, res, 200, OK);
      case 'describe':
        return this.reply(req, res, 200, describeText());
      case 'cluster_describe':
        return this.reply(req, res, 200, clusterDescribeBody(this.host), JSON_TYPE);
      case 'get_consistency':
        return this.reply(req, res, 200, `Read Consistency: ${ctl.readConsistency}\r\nWrite Consistency: ${ctl.writeConsistency}\r\n`);
      case 'set_consistency':
        ctl.setConsistency(a.op, a.level);
        return this.reply(req, res, 200, OK);
      case 'get_timeout_factor':
        return this.reply(req, res, 200, `Timeout factor: ${ctl.timeoutFactor}\n`);
      case 'set_timeout_factor':
        ctl.setTimeoutFactor(a.value);
        return this.reply(req, res, 200, OK);
      case 'get_state':
        return this.reply(req, res, 200, `State: ${ctl.state}\n`);
      case 'set_state':
        ctl.setState(a.state);
        return this.reply(req, res, 200, OK);
      case 'warm_up': {
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR warm-up needs a cluster node (dyn_listen) with peer racks\r\n');
        const a = await this.host.cluster.startWarmUp();
        return this.reply(req, res, a.status, a.status === 200 ? OK : `ERR ${a.message}\r\n`);
      }
      case 'ring_plan': {
        const d = this.host.cluster?.describe();
        const local = d?.dcs.flatMap((dc) => dc.racks.map((r) => ({ dc: dc.name, rack: r }))).find((x) => x.rack.servers.some((s) => s.local));
        const current = (local?.rack.servers ?? []).filter((s) => s.node_state !== 'left' && s.node_state !== 'joining').map((s) => ({ name: s.name, token: Number(s.tokens[0] ?? s.token) }));
        const plan = planRing(current, a.nodes);
        return this.reply(req, res, 200, `${JSON.stringify({ dc: local?.dc ?? null, rack: local?.rack.name ?? null, ...plan, how: 'apply one move at a time: POST /ring/move?token=<to> on the node to move (it leaves, then joins again there; needs hints_dir), start a new node with join: true and its planned token, or POST /state/leaving on a node to remove; wait until it is done (/info gossip.move.phase done, or node_state normal) before the next' })}\n`, JSON_TYPE);
      }
      case 'ring_move': {
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR a ring move needs a cluster node (dyn_listen)\r\n');
        const mv = await this.host.cluster.startMove(a.tokens);
        return this.reply(req, res, mv.status, mv.status === 200 ? OK : `ERR ${mv.message}\r\n`);
      }
      case 'leave': {
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR leaving needs a cluster node (dyn_listen)\r\n');
        const l = await this.host.cluster.startLeave();
        return this.reply(req, res, l.status, l.status === 200 ? OK : `ERR ${l.message}\r\n`);
      }
      case 'cleanup': {
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR cleanup needs a cluster node (dyn_listen)\r\n');
        const c = await this.host.cluster.startCleanup();
        return this.reply(req, res, c.status, c.status === 200 ? OK : `ERR ${c.message}\r\n`);
      }
      case 'repair':
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR repair needs a cluster node (dyn_listen) with peer racks\r\n');
        return this.reply(req, res, 200, `${JSON.stringify(this.host.cluster.repair ?? { phase: 'idle', running: false, runs: 0 })}\n`, JSON_TYPE);
      case 'repair_start': {
        if (this.host.cluster === null) return this.reply(req, res, 400, 'ERR repair needs a cluster node (dyn_listen) with peer racks\r\n');
        const r = await this.host.cluster.startRepair(a.range);
        return this.reply(req, res, r.status, r.status === 200 ? OK : `ERR ${r.message}\r\n`);
      }
      case 'peer': {
        const n = ctl.peer(a.verb, a.name);
        if (n === 0) return this.reply(req, res, 404, `ERR no backend server named '${a.name}' (this node has no peers yet; /peer acts on its servers, e.g. 127.0.0.1:6379, or all)\r\n`);
        return this.reply(req, res, 200, OK);
      }
      case 'log_level':
        ctl.setLogLevel(a.delta === 0 ? a.value : ctl.logLevel + a.delta);
        return this.reply(req, res, 200, OK);
      case 'historeset':
        this.latencyCache = null;
        await this.host.latency(true);
        return this.reply(req, res, 200, OK);
      case 'metrics': {
        const latency = await this.latency();
        const text = metricsText({ host: this.host, totals: this.host.counters(), latency, stateName: ctl.state, adminRequests: this.requests, adminRejected: this.rejected });
        return this.reply(req, res, 200, text, 'text/plain; version=0.0.4; charset=utf-8');
      }
      case 'dashboard':
        return this.reply(req, res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8', { 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
      case 'events':
        // HEAD has no body to stream: node:http sends no header for a body write, so a subscribed HEAD would never be answered.
        if (req.method === 'HEAD') return this.reply(req, res, 200, '', 'text/event-stream; charset=utf-8');
        if (!this.feed.subscribe(res)) this.reply(req, res, 503, 'ERR too many dashboard streams\r\n');
        return;
    }
  }
}

/** Constant-time comparison of an `Authorization: Bearer <token>` header with the token. */
function bearerMatches(req: http.IncomingMessage, token: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (m === null) return false;
  const given = Buffer.from(m[1].trim(), 'utf8');
  return given.length === token.length && timingSafeEqual(given, token);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** What a browser puts in Host for a loopback bind: the loopback names with the port (without it too on port 80), and the bind's own literal. */
function loopbackHostNames(bindHost: string, port: number): Set<string> {
  const bases = ['127.0.0.1', 'localhost', '[::1]'];
  const b = bindHost.toLowerCase();
  if (b !== '' && b !== '0.0.0.0' && b !== '::') bases.push(b.includes(':') && !b.startsWith('[') ? `[${b}]` : b);
  const names = new Set<string>();
  for (const n of bases) {
    names.add(`${n}:${port}`);
    if (port === 80) names.add(n);
  }
  return names;
}

/** Dynomite's --describe-stats, for the metrics this proxy keeps. */
function describeText(): string {
  const block = (title: string, list: readonly { name: string; help: string }[]): string =>
    `${title}:\n${list.map((d) => `  ${d.name.padEnd(40)}"${d.help}"`).join('\n')}\n`;
  return [block('pool stats', POOL_METRICS), block('server stats', SERVER_METRICS), block('worker stats', WORKER_METRICS), block('node stats', NODE_METRICS)].join('\n');
}
