// Topology discovery: /cluster_describe from the seeds' admin APIs, validated and merged into one ClientTopology.
// Never throws anything but a DynoError, never waits past its timeout, and never trusts a field it has not checked.
import { isHashName, parseDynToken, type DynToken, type HashName } from '../topology/index.ts';
import { DynoError } from './dyno-error.ts';

export interface ClientNode {
  /** Identity across refreshes: dc/rack/host:peerPort. */
  readonly id: string;
  /** host:clientPort, as metrics and errors name it. */
  readonly name: string;
  readonly host: string;
  /** 0 when no seed knows it (see DynoClientOptions.clientPort). */
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dc: string;
  readonly rack: string;
  readonly tokens: readonly DynToken[];
  /** normal, down, unknown, standby, writes_only, resuming, leaving ... (lowercase). */
  readonly state: string;
}

export interface ClientTopology {
  readonly nodes: readonly ClientNode[];
  readonly hash: HashName;
  readonly hashTag: string | null;
  /** Seeds that answered this time, of those asked. */
  readonly seedsAnswered: number;
}

interface DescribedServer {
  /** Where to connect. */
  host: string;
  /** How peers name the node (its dyn_seeds host): the identity across seeds. */
  idHost: string;
  peerPort: number;
  clientPort: number;
  dc: string;
  rack: string;
  tokens: DynToken[];
  state: string;
  local: boolean;
}

interface Described {
  seed: URL;
  servers: DescribedServer[];
  hash: HashName;
  hashTag: string | null;
}

function bad(seed: URL, why: string): DynoError {
  return new DynoError('BAD_TOPOLOGY', `seed ${seed.origin}: /cluster_describe ${why}`, { retryable: true });
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function port(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

function parseServer(seed: URL, dc: string, rack: string, s: unknown): DescribedServer {
  if (typeof s !== 'object' || s === null) throw bad(seed, 'has a server that is not an object');
  const o = s as Record<string, unknown>;
  if (!str(o['host']) || !port(o['port'])) throw bad(seed, 'has a server without host and port');
  const local = o['local'] === true;
  // Dynomite lists only the first token; dynoproxy adds every token. A bare 0 token stays valid ("0").
  const texts = Array.isArray(o['tokens']) ? o['tokens'] : o['token'] === undefined ? [] : [String(o['token'])];
  const tokens: DynToken[] = [];
  for (const t of texts) {
    if (typeof t !== 'string' || !/^-?\d{1,10}$/.test(t)) throw bad(seed, `has a token that is not a decimal number: ${JSON.stringify(t)}`);
    tokens.push(parseDynToken(t));
  }
  // A node describing itself is reachable where its admin API was (a single node names itself by its OS host name);
  // its peers name it by its dyn_listen host, unless that is a wildcard.
  const seedHost = seed.hostname.replace(/^\[|\]$/g, '');
  const host = local || WILDCARD.has(o['host']) ? seedHost : o['host'];
  const idHost = WILDCARD.has(o['host']) ? seedHost : o['host'];
  const clientPort = port(o['client_port']) ? o['client_port'] : 0;
  const state = str(o['node_state']) ? o['node_state'].toLowerCase() : str(o['state']) ? o['state'].toLowerCase() : 'unknown';
  return { host, idHost, peerPort: o['port'], clientPort, dc, rack, tokens, state, local };
}

/** Validates one /cluster_describe body. */
export function parseDescribe(seed: URL, body: unknown): Described {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { dcs?: unknown }).dcs)) throw bad(seed, 'has no dcs array');
  const b = body as Record<string, unknown>;
  if (b['data_store'] !== undefined && b['data_store'] !== 'redis') throw bad(seed, `describes a ${String(b['data_store'])} pool: the client speaks Redis only`);
  // Dynomite itself does not say; its default hash is murmur, with no hash tag.
  const hash = b['hash'] === undefined ? 'murmur' : b['hash'];
  if (typeof hash !== 'string' || !isHashName(hash)) throw bad(seed, `names an unknown hash ${JSON.stringify(hash)}`);
  const tag = b['hash_tag'] ?? null;
  if (tag !== null && (typeof tag !== 'string' || tag.length !== 2)) throw bad(seed, 'has a hash_tag that is not two characters');
  const servers: DescribedServer[] = [];
  for (const d of b['dcs'] as unknown[]) {
    const dc = d as { name?: unknown; racks?: unknown };
    if (typeof d !== 'object' || d === null || !str(dc.name) || !Array.isArray(dc.racks)) throw bad(seed, 'has a dc without name or racks');
    for (const r of dc.racks as unknown[]) {
      const rack = r as { name?: unknown; servers?: unknown };
      if (typeof r !== 'object' || r === null || !str(rack.name) || !Array.isArray(rack.servers)) throw bad(seed, 'has a rack without name or servers');
      for (const s of rack.servers as unknown[]) servers.push(parseServer(seed, dc.name, rack.name, s));
    }
  }
  if (servers.length === 0) throw bad(seed, 'lists no node');
  return { seed, servers, hash, hashTag: tag };
}

/**
 * One seed's description, within timeoutMs. A seed written with a token (`http://:<token>@host:port`, for a node with admin_read_token)
 * sends it as `Authorization: Bearer <token>`; the token never appears in errors (they name seed.origin).
 */
export async function describeSeed(seed: URL, timeoutMs: number): Promise<Described> {
  let text: string;
  try {
    const url = new URL('/cluster_describe', seed);
    const token = decodeURIComponent(seed.password !== '' ? seed.password : seed.username);
    url.username = '';
    url.password = '';
    const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
    text = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new DynoError('SEED_UNREACHABLE', `seed ${seed.origin}: ${(err as Error).message}`, { retryable: true, cause: err });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad(seed, `is not JSON: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return parseDescribe(seed, body);
}

/**
 * Every node any seed knows, merged: what a node says of itself (connect host, client port, own state) wins over
 * what its peers say of it; otherwise "down" from any seed wins. `clientPort` fills ports no seed knows.
 */
export function mergeDescribed(all: readonly Described[], clientPort?: ClientPortOf): ClientTopology {
  const first = all[0];
  const byId = new Map<string, DescribedServer>();
  for (const d of all) {
    if (d.hash !== first.hash || d.hashTag !== first.hashTag) {
      throw bad(d.seed, `disagrees with ${first.seed.origin} on the hash (${d.hash} ${String(d.hashTag)} vs ${first.hash} ${String(first.hashTag)})`);
    }
    for (const s of d.servers) {
      const key = `${s.dc}/${s.rack}/${s.idHost}:${s.peerPort}`;
      const had = byId.get(key);
      if (had === undefined || (s.local && !had.local)) byId.set(key, { ...s });
      else if (!had.local && s.state === 'down') had.state = 'down';
    }
  }
  const nodes: ClientNode[] = [];
  for (const [id, s] of byId) {
    const cp = s.clientPort !== 0 ? s.clientPort : (clientPort?.({ host: s.host, peerPort: s.peerPort, dc: s.dc, rack: s.rack }) ?? 0);
    nodes.push({ id, name: `${s.host}:${cp}`, host: s.host, clientPort: cp, peerPort: s.peerPort, dc: s.dc, rack: s.rack, tokens: s.state === 'joining' || s.state === 'left' ? [] : s.tokens, state: s.state });
  }
  nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { nodes, hash: first.hash, hashTag: first.hashTag, seedsAnswered: all.length };
}

/** The client port of a node no seed gives one for (a peer that is not itself a seed). */
export type ClientPortOf = (node: { host: string; peerPort: number; dc: string; rack: string }) => number;

/** Asks every seed at once; resolves with the merged topology of those that answered, or the first failure if none did. */
export async function discoverTopology(seeds: readonly URL[], timeoutMs: number, clientPort?: ClientPortOf): Promise<ClientTopology> {
  const results = await Promise.allSettled(seeds.map((s) => describeSeed(s, timeoutMs)));
  const ok: Described[] = [];
  let firstError: unknown = null;
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else firstError ??= r.reason;
  }
  if (ok.length === 0) throw firstError instanceof DynoError ? firstError : new DynoError('SEED_UNREACHABLE', 'no seed answered', { retryable: true, cause: firstError });
  return mergeDescribed(ok, clientPort);
}
