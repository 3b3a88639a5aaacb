// twemproxy's ketama consistent hashing (nc_ketama.c): the exact point layout, weights and dispatch.
// Pure: no I/O. Building allocates (md5 of every point name); lookup() never does.

import type { Distribution, ServerWeight } from './distribution.ts';
import { checkServers, isLive, twemproxyServerOrder } from './distribution.ts';
import { md5Words } from './md5.ts';

export const KETAMA_POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;
/** snprintf() into char[86]: a longer point name is cut, and twemproxy then hashes bytes past the buffer. */
const KETAMA_MAX_POINT_NAME = 85;
const DEFAULT_KETAMA_PORT = 11211;

/**
 * The server name twemproxy hashes for ketama points (conf_add_server): the configured name if the server line
 * has one ("host:port:weight name"); else "host:port", but only "host" when the port is 11211 (libmemcached
 * compatibility). A unix socket "/path:weight" without a name becomes "/path:" (twemproxy keeps the colon).
 */
export function ketamaServerName(address: string, port: number, name?: string): string {
  if (name !== undefined && name.length > 0) return name;
  if (address.startsWith('/')) return `${address}:`;
  return port === DEFAULT_KETAMA_PORT ? address : `${address}:${port}`;
}

/**
 * Points per server exactly as twemproxy computes them in single-precision float:
 * floorf((float)(pct * 160 / 4 * (float)nlive + 0.0000000001)) * 4, with pct = (float)weight / (float)total.
 * Float rounding matters: some weight mixes lose a group of 4 points, and twemproxy's placement shows it.
 */
export function ketamaPointsPerServer(weight: number, totalWeight: number, nlive: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const perServer = f(f(f(pct * KETAMA_POINTS_PER_SERVER) / 4) * f(nlive));
  return Math.floor(f(perServer + 0.0000000001)) * 4;
}

/** A sorted continuum of (value, owner) points, searched for the first value >= hash, wrapping to the first. */
export class KetamaDistribution implements Distribution {
  readonly kind = 'ketama' as const;
  readonly values: Uint32Array;
  readonly owners: Int32Array;

  constructor(values: Uint32Array, owners: Int32Array) {
    this.values = values;
    this.owners = owners;
  }

  lookup(hash: number): number {
    const values = this.values;
    const n = values.length;
    if (n === 0) return -1;
    const h = hash >>> 0;
    let left = 0;
    let right = n;
    while (left < right) {
      const middle = left + ((right - left) >>> 1);
      if (values[middle] < h) left = middle + 1;
      else right = middle;
    }
    return this.owners[right === n ? 0 : right];
  }
}

/**
 * twemproxy ketama_update(): for each live server in twemproxy's name order, points "name-0", "name-1", ... each
 * give four little-endian md5 words; the continuum is sorted by value (stable, so equal values keep that order, as
 * glibc's merge-sort qsort does). Owners are indexes into `servers`; live[i] === false leaves server i out.
 */
export function buildKetama(servers: readonly ServerWeight[], live?: readonly boolean[]): KetamaDistribution {
  checkServers(servers, live);
  const serverOrder = twemproxyServerOrder(servers);
  let nlive = 0;
  let totalWeight = 0;
  for (let i = 0; i < servers.length; i++) {
    if (!isLive(live, i)) continue;
    nlive++;
    totalWeight += servers[i].weight;
  }
  const encoder = new TextEncoder();
  const digest = new Uint32Array(4);
  const values: number[] = [];
  const owners: number[] = [];
  for (const i of serverOrder) {
    if (!isLive(live, i)) continue;
    const perServer = ketamaPointsPerServer(servers[i].weight, totalWeight, nlive);
    for (let p = 0; p < perServer / POINTS_PER_HASH; p++) {
      const pointName = encoder.encode(`${servers[i].name}-${p}`);
      if (pointName.length > KETAMA_MAX_POINT_NAME) {
        throw new RangeError(
          `ketama: point name of server "${servers[i].name}" is ${pointName.length} bytes; twemproxy ` +
          `truncates past ${KETAMA_MAX_POINT_NAME} and then hashes undefined bytes, so placement cannot match`,
        );
      }
      md5Words(pointName, 0, pointName.length, digest);
      for (let x = 0; x < POINTS_PER_HASH; x++) {
        values.push(digest[x]);
        owners.push(i);
      }
    }
  }
  const order = values.map((_, i) => i);
  order.sort((a, b) => values[a] - values[b]);
  const sortedValues = new Uint32Array(order.length);
  const sortedOwners = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    sortedValues[i] = values[order[i]];
    sortedOwners[i] = owners[order[i]];
  }
  return new KetamaDistribution(sortedValues, sortedOwners);
}
