// checkPools: rules across pools of one file, chiefly that no two listeners claim the same port.
// Must never resolve host names: only literal wildcards and identical hosts count as overlapping.

import { ConfigError, valueError } from './config-error.ts';
import type { PoolDraft } from './build-pool.ts';
import type { ConfigStyle, HostPort, PoolConfig } from './pool-config.ts';
import type { DraftField } from './pool-keys.ts';

interface Listener {
  pool: string;
  key: string;
  line: number;
  address: HostPort;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

function overlaps(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  const hostA = a.host.toLowerCase();
  const hostB = b.host.toLowerCase();
  return hostA === hostB || WILDCARDS.has(hostA) || WILDCARDS.has(hostB);
}

function show(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function checkPools(drafts: PoolDraft[], pools: PoolConfig[], style: ConfigStyle, file: string): void {
  // Dynomite reads one pool per file (conf.pool is a single struct); a node has one identity in a
  // cluster. Several standalone pools stay allowed, as twemproxy allows them.
  const clusterPool = pools.find((pool) => pool.dynListen !== null || pool.dynSeeds.length > 0 || pool.tokens.length > 0);
  if (style === 'dynomite' && clusterPool !== undefined && pools.length > 1) {
    const second = drafts[1] as PoolDraft;
    const what = `${second.name}: a cluster node's file holds exactly one pool, as in Dynomite`;
    throw new ConfigError(file, second.line, '', `${file}:${second.line}: ${what}`);
  }

  const listeners: Listener[] = [];
  const statsSeen: Listener[] = [];
  pools.forEach((pool, i) => {
    const draft = drafts[i] as PoolDraft;
    const lineOf = (field: DraftField) => draft.values.get(field)?.line ?? draft.line;
    const own: Listener[] = [{ pool: pool.name, key: 'listen', line: lineOf('listen'), address: pool.listen }];
    if (pool.dynListen !== null) {
      own.push({ pool: pool.name, key: 'dyn_listen', line: lineOf('dynListen'), address: pool.dynListen });
    }
    const stats: Listener = {
      pool: pool.name,
      key: draft.values.get('statsListen')?.key ?? 'stats_listen',
      line: lineOf('statsListen'),
      address: pool.statsListen,
    };
    // The stats/admin server is one per process, so pools may name the same one; it must not
    // collide with a data port though.
    const sharedStats = statsSeen.some((other) => other.address.port === stats.address.port && other.address.host === stats.address.host);
    const candidates = sharedStats ? own : [...own, stats];
    for (const candidate of candidates) {
      const clash = [...listeners, ...statsSeen].find((other) => overlaps(other.address, candidate.address));
      if (clash !== undefined) {
        const what = `${show(candidate.address)} is already taken by ${clash.pool}.${clash.key} (line ${clash.line})`;
        throw valueError(file, candidate.line, candidate.pool, candidate.key, what, null);
      }
      (candidate === stats ? statsSeen : listeners).push(candidate);
    }
  });
}
