// The Distribution interface and twemproxy's modula and random distributions (nc_modula.c, nc_random.c).
// Pure: no I/O; lookups never allocate (random uses Math.random, which does not).

/** Maps a 32-bit key hash to a server index; -1 means no live server. Lookups must be allocation-free. */
export interface Distribution {
  readonly kind: 'ketama' | 'modula' | 'random' | 'vnode';
  lookup(hash: number): number;
}

/** A server as twemproxy sees it: `name` is what ketama hashes (see ketamaServerName), weight an integer >= 1. */
export interface ServerWeight { name: string; weight: number }

/**
 * Checks weights and the optional liveness mask (twemproxy's auto_eject_hosts): live[i] === false leaves
 * server i out of the distribution while every other server keeps its index.
 */
export function checkServers(servers: readonly ServerWeight[], live: readonly boolean[] | undefined): void {
  if (live !== undefined && live.length !== servers.length) {
    throw new RangeError(`${servers.length} servers but ${live.length} liveness flags`);
  }
  for (const s of servers) {
    if (!Number.isInteger(s.weight) || s.weight < 1 || s.weight > 0xffffffff) {
      throw new RangeError(`server "${s.name}" has weight ${s.weight}; it must be an integer >= 1`);
    }
  }
}

const utf8 = new TextEncoder();

/**
 * The order twemproxy keeps a pool's servers in: conf_validate_server() sorts them by name with string_compare()
 * (shorter name first, then bytes), so "redis-c" comes before "127.0.0.1:6379". Modula slots follow this order,
 * whatever order the config lists them in. Duplicate names are refused, as twemproxy refuses them.
 * Returns indexes into `servers`.
 */
export function twemproxyServerOrder(servers: readonly ServerWeight[]): number[] {
  const names = servers.map((s) => utf8.encode(s.name));
  const order = servers.map((_, i) => i);
  order.sort((a, b) => {
    const x = names[a];
    const y = names[b];
    if (x.length !== y.length) return x.length - y.length;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  });
  for (let i = 1; i < order.length; i++) {
    if (servers[order[i]].name === servers[order[i - 1]].name) {
      throw new RangeError(`two servers share the name "${servers[order[i]].name}"`);
    }
  }
  return order;
}

export function isLive(live: readonly boolean[] | undefined, i: number): boolean {
  return live === undefined || live[i] !== false;
}

export const MAX_MODULA_SLOTS = 1 << 24;

/** A table read as slots[hash % slots.length]; modula fills one slot per unit of weight. */
export class ModulaDistribution implements Distribution {
  readonly kind = 'modula' as const;
  readonly slots: Int32Array;

  constructor(slots: Int32Array) {
    this.slots = slots;
  }

  lookup(hash: number): number {
    const n = this.slots.length;
    return n === 0 ? -1 : this.slots[(hash >>> 0) % n];
  }
}

/**
 * twemproxy modula: each live server takes `weight` consecutive slots, in twemproxy's name order (see
 * twemproxyServerOrder); a key goes to slots[hash % slots]. Slots hold indexes into `servers`.
 */
export function buildModula(servers: readonly ServerWeight[], live?: readonly boolean[]): ModulaDistribution {
  checkServers(servers, live);
  let total = 0;
  for (let i = 0; i < servers.length; i++) if (isLive(live, i)) total += servers[i].weight;
  // twemproxy would allocate this many slots too; past this size a weight is surely a config typo.
  if (total > MAX_MODULA_SLOTS) throw new RangeError(`modula: total weight ${total} exceeds ${MAX_MODULA_SLOTS}`);
  const slots: number[] = [];
  for (const i of twemproxyServerOrder(servers)) {
    if (!isLive(live, i)) continue;
    for (let w = 0; w < servers[i].weight; w++) slots.push(i);
  }
  return new ModulaDistribution(Int32Array.from(slots));
}

/** twemproxy random: ignores the hash and the weights and picks a live server uniformly for every request. */
export class RandomDistribution implements Distribution {
  readonly kind = 'random' as const;
  readonly slots: Int32Array;

  constructor(slots: Int32Array) {
    this.slots = slots;
  }

  lookup(_hash: number): number {
    const n = this.slots.length;
    return n === 0 ? -1 : this.slots[Math.floor(Math.random() * n)];
  }
}

export function buildRandom(servers: readonly ServerWeight[], live?: readonly boolean[]): RandomDistribution {
  checkServers(servers, live);
  const slots: number[] = [];
  for (const i of twemproxyServerOrder(servers)) if (isLive(live, i)) slots.push(i);
  return new RandomDistribution(Int32Array.from(slots));
}
