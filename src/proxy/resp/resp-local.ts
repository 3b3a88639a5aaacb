// Commands the proxy answers itself: connection state (AUTH, HELLO, SELECT, CLIENT ...), PING/ECHO, COMMAND, INFO, MULTI.
// Never forwards: these describe the client's connection to the proxy, which no single backend knows.
import { TrackingState } from './resp-tracking.ts';
import { acquireRequest, completeLocally, K_CLIENT } from '../../io/index.ts';
import { COMMANDS, FLAG_NAMES, keyIndexes, legacyKeyRange, resolveCommand, type CommandSpec } from '../../commands/index.ts';
import * as R from './resp-replies.ts';
import { P, S } from '../../stats/index.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import { txBegin, txExec, txDiscard } from './resp-tx.ts';
import { releasePin, unwatch } from './resp-watch.ts';
import { unsubscribeAll } from './resp-pubsub.ts';
import { authenticateUser } from './resp-acl.ts';
import type { RespSession } from './resp-session.ts';

const VERSION = '0.1.0';
/** The Redis version we present: the command set we route is Redis 7's. */
const REDIS_VERSION = '7.2.0';
const startedAt = Date.now();

function arg(c: RespSession, i: number): Buffer {
  const p = c.parser;
  const b = p.argBuf;
  return Buffer.from(b.buffer, b.byteOffset + p.argOff[i], p.argLen[i]);
}

function argText(c: RespSession, i: number): string {
  return arg(c, i).toString('utf8');
}

export function answerLocally(c: RespSession, spec: CommandSpec): void {
  const argc = c.parser.argc;
  switch (spec.name) {
    case 'ping':
      return c.replyLocal(argc > 1 ? R.bulkReply(arg(c, 1)) : R.PONG);
    case 'echo':
      return c.replyLocal(R.bulkReply(arg(c, 1)));
    case 'quit':
      return c.replyLocal(R.OK, true);
    case 'select':
      return c.replyLocal(argText(c, 1) === '0' ? R.OK : R.errReply('ERR DB index is out of range'));
    case 'auth':
      auth(c, argc === 2 ? 'default' : argText(c, 1), arg(c, argc - 1), true);
      return;
    case 'hello':
      return hello(c);
    case 'reset':
      txDiscard(c);
      releasePin(c, false);
      unsubscribeAll(c);
      c.name = null;
      c.authed = c.pool.settings.requirepass === null && c.pool.settings.users.size === 0;
      c.user = null;
      return c.replyLocal(R.RESET);
    case 'multi':
      return txBegin(c);
    case 'exec':
      return txExec(c);
    case 'discard':
      return txDiscard(c, true);
    case 'unwatch':
      return unwatch(c);
    case 'info':
      return c.replyLocal(R.bulkReply(info(c, argc > 1 ? argText(c, 1).toLowerCase() : 'default')));
    case 'time': {
      const us = BigInt(Date.now()) * 1000n;
      return c.replyLocal(Buffer.from(`*2\r\n$${String(us / 1000000n).length}\r\n${us / 1000000n}\r\n$${String(us % 1000000n).length}\r\n${us % 1000000n}\r\n`));
    }
    case 'readonly':
    case 'readwrite':
      return c.replyLocal(R.OK);
    default:
      if (spec.name.startsWith('client|')) return client(c, spec.name.slice(7));
      if (spec.name === 'command' || spec.name.startsWith('command|')) return command(c, spec.name);
      return c.replyLocal(R.refusedReply(spec));
  }
}

/** Failed AUTHs one connection may make at once; then one a second more; past that, the connection is closed. */
export const AUTH_FAILURE_BURST = 5;
const AUTH_REFILL_MS = 1000;
const TOO_MANY_AUTH = R.errReply('ERR too many failed AUTH attempts on this connection; closing it');

/** Compared in constant time (the digests have one length whatever the password's): a wrong guess learns nothing by timing. */
function passwordMatches(given: Buffer, want: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function auth(c: RespSession, user: string, pass: Buffer, reply: boolean): boolean {
  const s = c.pool.settings;
  const want = s.requirepass;
  let res: Buffer;
  let ok = false;
  const named = user === 'default' ? null : authenticateUser(s.users, user, pass);
  if (named !== null) {
    c.authed = true;
    c.user = named;
    ok = true;
    res = R.OK;
  } else if (want === null && user === 'default') res = R.NO_PASSWORD_SET;
  else if (want !== null && passwordMatches(pass, want) && user === 'default') {
    c.authed = true;
    c.user = null;
    ok = true;
    res = R.OK;
  } else {
    res = R.WRONGPASS;
    c.pool.st[P.auth_failures_total]++;
    const now = Date.now();
    if (c.authTokens < AUTH_FAILURE_BURST) {
      const back = Math.floor((now - c.authRefillAt) / AUTH_REFILL_MS);
      if (back > 0) {
        c.authTokens = Math.min(AUTH_FAILURE_BURST, c.authTokens + back);
        c.authRefillAt = now;
      }
    } else c.authRefillAt = now;
    if (c.authTokens <= 0) {
      c.replyLocal(TOO_MANY_AUTH, true);
      return false;
    }
    c.authTokens--;
  }
  if (reply || !ok) c.replyLocal(res);
  return ok;
}

function hello(c: RespSession): void {
  const argc = c.parser.argc;
  let i = 1;
  let proto = c.resp3 ? 3 : 2;
  if (argc > 1) {
    const v = argText(c, 1);
    // Redis: not an integer is this error; an integer other than 2 or 3 is NOPROTO.
    if (!/^-?\d{1,19}$/.test(v)) return c.replyLocal(R.errReply('ERR Protocol version is not an integer or out of range'));
    if (v !== '2' && v !== '3') return c.replyLocal(R.NOPROTO);
    // A Dynomite node cannot answer in RESP3: a cluster with one stays RESP2.
    if (v === '3' && c.pool.cluster !== null && c.pool.cluster.current().hasDynomite) return c.replyLocal(R.NOPROTO);
    proto = v === '3' ? 3 : 2;
    i = 2;
  }
  for (; i < argc; i++) {
    const opt = argText(c, i).toLowerCase();
    if (opt === 'auth' && i + 2 < argc) {
      if (!auth(c, argText(c, i + 1), arg(c, i + 2), false)) return;
      i += 2;
    } else if (opt === 'setname' && i + 1 < argc) {
      c.name = Buffer.from(arg(c, i + 1));
      i += 1;
    } else return c.replyLocal(R.errReply(`ERR Syntax error in HELLO option '${opt}'`));
  }
  if (!c.authed) return c.replyLocal(R.NOAUTH);
  // RESP3 from here on: replies come from the datastores' RESP3 connections (BackendServer.resp3Server) and peers are asked for RESP3.
  c.resp3 = proto === 3;
  const fields: Buffer[] = [
    R.bulkReply('server'), R.bulkReply('redis'),
    R.bulkReply('version'), R.bulkReply(REDIS_VERSION),
    R.bulkReply('proto'), R.intReply(proto),
    R.bulkReply('id'), R.intReply(c.id),
    R.bulkReply('mode'), R.bulkReply('standalone'),
    R.bulkReply('role'), R.bulkReply('master'),
    R.bulkReply('modules'), R.EMPTY_ARRAY,
  ];
  c.replyLocal(Buffer.concat([Buffer.from(proto === 3 ? `%${fields.length / 2}\r\n` : `*${fields.length}\r\n`), ...fields]));
}

/**
 * CLIENT TRACKING ON|OFF [BCAST] [PREFIX p ...]: RESP3 connections of a single node (resp-tracking.ts). +OK once every datastore's
 * invalidation connection tracks; a client whose reads were sent before that drops its cache then (one flush push).
 */
function clientTracking(c: RespSession): void {
  const argc = c.parser.argc;
  const onOff = argText(c, 2).toLowerCase();
  const hub = c.pool.tracking();
  if (onOff === 'off') {
    hub.disable(c);
    return c.replyLocal(R.OK);
  }
  if (onOff !== 'on') return c.replyLocal(R.errReply('ERR syntax error'));
  let bcast = false;
  const prefixes: string[] = [];
  const opts = { optin: false, optout: false, noloop: false };
  for (let i = 3; i < argc; i++) {
    const opt = argText(c, i).toLowerCase();
    if (opt === 'bcast') bcast = true;
    else if (opt === 'prefix' && i + 1 < argc) prefixes.push(arg(c, ++i).toString('latin1'));
    else if (opt === 'optin' || opt === 'optout' || opt === 'noloop') opts[opt] = true;
    else if (opt === 'redirect') {
      return c.replyLocal(R.errReply('ERR dynoproxy: CLIENT TRACKING REDIRECT is not supported through the proxy (RESP3 connections get invalidations as pushes)'));
    } else return c.replyLocal(R.errReply('ERR syntax error'));
  }
  // Redis' own checks and words.
  if (prefixes.length > 0 && !bcast) return c.replyLocal(R.errReply('ERR PREFIX option requires BCAST mode to be enabled'));
  if (opts.optin && opts.optout) return c.replyLocal(R.errReply("ERR You can't use both OPTIN and OPTOUT"));
  if (bcast && (opts.optin || opts.optout)) return c.replyLocal(R.errReply('ERR OPTIN and OPTOUT are not compatible with BCAST'));
  if (!c.resp3) return c.replyLocal(R.errReply('ERR dynoproxy: CLIENT TRACKING needs RESP3 (HELLO 3): invalidations are push messages, and REDIRECT is not supported'));
  const state = new TrackingState(bcast, prefixes, opts);
  hub.enable(c, state);
  const req = acquireRequest(K_CLIENT);
  c.enqueue(req);
  // A cluster node also hears the writes on the datastores of its rack's other nodes (they own the keys its clients read).
  const cl = c.pool.cluster;
  const view = cl?.current();
  const peers = cl === null || view === undefined ? [] : view.racks[view.localRack].nodes
    .filter((i) => i !== view.localNode && view.nodes[i].tokens.length > 0 && view.nodes[i].compat === 'dynoproxy')
    .map((i) => ({ id: view.nodes[i].id, link: () => cl.dedicatedLink(view.nodes[i]) }));
  let waiting = 2;
  let failed = '';
  const settled = (ok: boolean, why: string): void => {
    if (!ok) failed = why;
    if (--waiting > 0) return;
    if (failed !== '') {
      hub.disable(c);
      return completeLocally(req, R.storageErrorReply(failed));
    }
    state.ready = true;
    completeLocally(req, R.OK);
    if (state.earlyReads > 0) c.pushLocal(Buffer.from('>2\r\n$10\r\ninvalidate\r\n_\r\n'));
  };
  hub.ensure(c.pool.servers, (ok) => settled(ok, 'the invalidation connection to a datastore failed'));
  hub.ensurePeers(peers, (ok) => settled(ok, 'a node of this rack did not answer the invalidation poll'));
}

function client(c: RespSession, sub: string): void {
  switch (sub) {
    case 'setname': {
      const name = arg(c, 2);
      for (const b of name) if (b <= 0x20 || b > 0x7e) return c.replyLocal(R.errReply('ERR Client names cannot contain spaces, newlines or special characters.'));
      c.name = name.length > 0 ? Buffer.from(name) : null;
      return c.replyLocal(R.OK);
    }
    case 'getname':
      return c.replyLocal(c.name === null ? R.NULL_BULK : R.bulkReply(c.name));
    case 'id':
      return c.replyLocal(R.intReply(c.id));
    case 'info': {
      const s = c.socket;
      return c.replyLocal(R.bulkReply(`id=${c.id} addr=${s.remoteAddress}:${s.remotePort} laddr=${s.localAddress}:${s.localPort} name=${c.name?.toString('latin1') ?? ''} db=0 multi=${c.tx === null ? -1 : c.tx.count} resp=${c.resp3 ? 3 : 2}\n`));
    }
    case 'setinfo':
    case 'no-evict':
    case 'no-touch':
      return c.replyLocal(R.OK);
    case 'tracking':
      return clientTracking(c);
    case 'trackinginfo': {
      const st = c.tracking;
      const flags = st === null ? ['off'] : ['on', ...(st.bcast ? ['bcast'] : []), ...(st.optin ? ['optin'] : []), ...(st.optout ? ['optout'] : []), ...(st.noloop ? ['noloop'] : [])];
      const prefixes = st?.prefixes ?? [];
      const arr = (xs: readonly string[]): Buffer => Buffer.concat([Buffer.from(`*${xs.length}\r\n`), ...xs.map((x) => R.bulkReply(x))]);
      return c.replyLocal(Buffer.concat([Buffer.from(c.resp3 ? '%3\r\n' : '*6\r\n'), R.bulkReply('flags'), arr(flags), R.bulkReply('redirect'), R.intReply(st === null ? -1 : 0), R.bulkReply('prefixes'), arr(prefixes)]));
    }
    case 'getredir':
      return c.replyLocal(R.intReply(c.tracking === null ? -1 : 0));
    case 'caching': {
      const st = c.tracking;
      const yes = c.parser.argc === 3 ? argText(c, 2).toLowerCase() : '';
      if (yes !== 'yes' && yes !== 'no') return c.replyLocal(R.errReply('ERR syntax error'));
      if (st === null || (!st.optin && !st.optout)) return c.replyLocal(R.errReply('ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled'));
      if (yes === 'yes' && !st.optin) return c.replyLocal(R.errReply('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.'));
      if (yes === 'no' && !st.optout) return c.replyLocal(R.errReply('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.'));
      st.caching = yes === 'yes' ? 1 : 0;
      st.cachingFresh = true;
      return c.replyLocal(R.OK);
    }
    default:
      return c.replyLocal(R.errReply(`ERR dynoproxy: CLIENT ${sub.toUpperCase()} is not supported through the proxy`));
  }
}

let commandInfoCache: Buffer | null = null;

function commandInfo(spec: CommandSpec): Buffer {
  const [first, last, step] = legacyKeyRange(spec);
  const flags: string[] = [];
  for (let b = 0; b < FLAG_NAMES.length; b++) if (spec.flags & (1 << b)) flags.push(FLAG_NAMES[b]);
  return Buffer.concat([
    Buffer.from('*6\r\n'),
    R.bulkReply(spec.name),
    R.intReply(spec.arity),
    Buffer.from(`*${flags.length}\r\n${flags.map((f) => `+${f}\r\n`).join('')}`),
    R.intReply(first),
    R.intReply(last),
    R.intReply(step),
  ]);
}

function command(c: RespSession, name: string): void {
  const p = c.parser;
  switch (name) {
    case 'command': {
      if (commandInfoCache === null) commandInfoCache = Buffer.concat([Buffer.from(`*${COMMANDS.length}\r\n`), ...COMMANDS.map(commandInfo)]);
      return c.replyLocal(commandInfoCache);
    }
    case 'command|count':
      return c.replyLocal(R.intReply(COMMANDS.length));
    case 'command|docs':
      return c.replyLocal(R.EMPTY_ARRAY);
    case 'command|list':
      return c.replyLocal(Buffer.concat([Buffer.from(`*${COMMANDS.length}\r\n`), ...COMMANDS.map((s: CommandSpec) => R.bulkReply(s.name))]));
    case 'command|info': {
      const parts: Buffer[] = [Buffer.from(`*${p.argc - 2}\r\n`)];
      for (let i = 2; i < p.argc; i++) {
        const s = resolveCommand(p.argBuf, p.argOff.subarray(i), p.argLen.subarray(i), 1);
        parts.push(s === undefined ? R.NULL_BULK : commandInfo(s));
      }
      return c.replyLocal(Buffer.concat(parts));
    }
    case 'command|getkeys': {
      const s = resolveCommand(p.argBuf, p.argOff.subarray(2), p.argLen.subarray(2), p.argc - 2);
      if (s === undefined) return c.replyLocal(R.errReply('ERR Invalid command specified'));
      const out = new Int32Array(p.argc);
      const n = keyIndexes(s, p.argBuf, p.argOff.subarray(2), p.argLen.subarray(2), p.argc - 2, out);
      if (n <= 0) return c.replyLocal(R.errReply('ERR The command has no key arguments'));
      const parts: Buffer[] = [Buffer.from(`*${n}\r\n`)];
      for (let i = 0; i < n; i++) parts.push(R.bulkReply(arg(c, out[i] + 2)));
      return c.replyLocal(Buffer.concat(parts));
    }
    default:
      return c.replyLocal(R.errReply(`ERR dynoproxy: ${name.replace('|', ' ').toUpperCase()} is not supported through the proxy`));
  }
}

function info(c: RespSession, section: string): string {
  const pool = c.pool;
  const up = Math.floor((Date.now() - startedAt) / 1000);
  const sections: Record<string, string> = {
    server: `# Server\r\nredis_version:${REDIS_VERSION}\r\nredis_mode:standalone\r\ndynoproxy_version:${VERSION}\r\nos:${process.platform}\r\nprocess_id:${process.pid}\r\ntcp_port:${pool.config.listen.port}\r\nuptime_in_seconds:${up}\r\nuptime_in_days:${Math.floor(up / 86400)}\r\n`,
    clients: `# Clients\r\nconnected_clients:${pool.clientCount}\r\n`,
    persistence: '# Persistence\r\nloading:0\r\n',
    replication: '# Replication\r\nrole:master\r\nconnected_slaves:0\r\n',
    proxy: `# Proxy\r\npool:${pool.config.name}\r\nservers:${pool.servers.length}\r\nlive_servers:${pool.router.liveServers.length}\r\n${pool.servers
      .map((s) => `server_${s.index}:addr=${s.host}:${s.port},name=${s.name},ejected=${s.ejected ? 1 : 0},requests=${s.st[S.server_requests_total]},errors=${s.st[S.server_errors_total]},timeouts=${s.st[S.server_timeouts_total]}`)
      .join('\r\n')}\r\n`,
  };
  if (section === 'default' || section === 'all' || section === 'everything') return Object.values(sections).join('\r\n');
  return sections[section] ?? '';
}
