// Router: key bytes -> the backend that owns them (hash tag, hash function, distribution over live servers).
// Never converts a key to a string and never allocates per lookup.
import {
  hashFunction,
  hashTagRange,
  twemproxyHashFunction,
  twemproxyHashTagRange,
  buildKetama,
  buildModula,
  buildRandom,
} from '../../topology/index.ts';
import type { Distribution, HashFn, HashName, TwemproxyHashName } from '../../topology/index.ts';
import type { BackendServer } from '../../io/index.ts';

export type DistributionName = 'ketama' | 'modula' | 'random' | 'vnode';
/** Whose placement to reproduce: a nutcracker.yml pool must put keys where twemproxy did. */
export type PlacementFlavor = 'dynomite' | 'twemproxy';

type TagRange = (buf: Uint8Array, start: number, end: number, l: number, r: number, out: Int32Array) => boolean;

export class Router {
  private readonly servers: readonly BackendServer[];
  private readonly hash: HashFn;
  private readonly tagRange: TagRange;
  private readonly tagLeft: number;
  private readonly tagRight: number;
  private readonly distName: DistributionName;
  /** twemproxy's server_pool_hash() gives an empty key hash 0 without calling the hash function. */
  private readonly emptyIsZero: boolean;
  private dist: Distribution | null = null;
  private live: BackendServer[] = [];
  private readonly range = new Int32Array(2);

  constructor(servers: readonly BackendServer[], hash: HashName, hashTag: string | null, distribution: DistributionName, flavor: PlacementFlavor) {
    this.servers = servers;
    const twem = flavor === 'twemproxy' && hash !== 'murmur3';
    this.hash = twem ? twemproxyHashFunction(hash as TwemproxyHashName) : hashFunction(hash);
    this.tagRange = twem ? twemproxyHashTagRange : hashTagRange;
    this.tagLeft = hashTag !== null ? hashTag.charCodeAt(0) : -1;
    this.tagRight = hashTag !== null ? hashTag.charCodeAt(1) : -1;
    this.distName = distribution;
    this.emptyIsZero = twem;
    this.rebuild();
  }

  /** Recompute the distribution from the servers not ejected (auto_eject_hosts). */
  rebuild(): void {
    const servers = this.servers;
    this.live = servers.filter((s) => !s.ejected);
    if (this.live.length === 0) {
      this.dist = null;
      return;
    }
    const weights = servers.map((s) => ({ name: s.name, weight: s.weight }));
    const mask = servers.map((s) => !s.ejected);
    switch (this.distName) {
      case 'modula':
        this.dist = buildModula(weights, mask);
        break;
      case 'random':
        this.dist = buildRandom(weights, mask);
        break;
      default:
        // A single node's servers carry no tokens, so `vnode` places them like ketama.
        this.dist = buildKetama(weights, mask);
        break;
    }
  }

  /** The hash of a key as placed on the ring (after hash-tag extraction). */
  keyHash(buf: Uint8Array, start: number, end: number): number {
    if (this.tagLeft >= 0) {
      const r = this.range;
      this.tagRange(buf, start, end, this.tagLeft, this.tagRight, r);
      start = r[0];
      end = r[1];
    }
    if (start === end && this.emptyIsZero) return 0;
    return this.hash(buf, start, end);
  }

  /** The server owning a key, or null when no server is live. */
  serverFor(buf: Uint8Array, start: number, end: number): BackendServer | null {
    const d = this.dist;
    if (d === null) return null;
    if (this.live.length === 1) return this.live[0];
    const i = d.lookup(this.keyHash(buf, start, end));
    return i < 0 ? null : this.servers[i];
  }

  /** Any live server (keyless commands), or null. */
  anyServer(): BackendServer | null {
    return this.live.length > 0 ? this.live[0] : null;
  }

  get liveServers(): readonly BackendServer[] {
    return this.live;
  }
}
