// parseConfig: YAML text -> validated pools, every problem located at file:line and named by key.
// Must never do I/O (loadConfig reads the file) and never let a half-checked value out.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { buildPool, type PoolDraft, type SetValue } from './build-pool.ts';
import { checkPools } from './check-pools.ts';
import { ConfigError, ValueProblem, valueError } from './config-error.ts';
import type { ConfigStyle, LoadedConfig, PoolConfig } from './pool-config.ts';
import { parseSeed } from './parse-address.ts';
import {
  closestKey,
  DYNOMITE_MARKER_KEYS,
  KEY_RULES,
  TWEMPROXY_MARKER_KEYS,
  type DraftField,
  type KeyRule,
} from './pool-keys.ts';

interface RawEntry {
  key: string;
  keyLine: number;
  value: unknown;
}

interface RawPool {
  name: string;
  line: number;
  entries: RawEntry[];
}

/** Reads a configuration. `file` is only used to locate errors and is copied into each pool. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  // failsafe: every scalar stays the string that was written. Types are ours to decide, as in the
  // C loaders (which see only strings), so `tokens: 0123` keeps its digits and `yes` is no boolean.
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  const lineOf = (node: unknown): number => {
    const range = (node as Partial<Node> | null)?.range;
    return range ? lines.linePos(range[0]).line : 1;
  };

  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = firstError.linePos?.[0].line ?? 1;
    const what = (firstError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    // An unquoted [::1]:port opens a YAML flow list; the parser cannot say so, we can.
    const source = text.split(/\r?\n/)[line - 1] ?? '';
    const hint = /\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]/.test(source) ? ' (quote addresses that start with [, e.g. "[::1]:8102")' : '';
    throw new ConfigError(file, line, '', `${file}:${line}: not valid YAML: ${what}${hint}`);
  }
  const warnings = doc.warnings.map((w) => `${file}:${w.linePos?.[0].line ?? 1}: YAML: ${w.message.split('\n')[0]}`);

  const rawPools = readPools(doc.contents, file, lineOf);
  const style = detectStyle(rawPools);
  const drafts = rawPools.map((raw) => readPool(raw, file, lineOf, warnings));
  const pools = drafts.map((draft) => buildPool(draft, style, file));
  checkPools(drafts, pools, style, file);
  for (const pool of pools) {
    if (pool.dataStore === 1 && pool.users.length > 0) {
      warnings.push(`${file}: ${pool.name}.users: memcached has no AUTH; the users are ignored on this memcached pool`);
    }
    const dyn = pool.dynListen;
    if (dyn !== null && pool.peerSecret === null && !isLoopbackHost(dyn.host)) {
      warnings.push(
        `${file}: ${pool.name}.dyn_listen: SECURITY: the peer port ${dyn.host}:${dyn.port} is not loopback and has no peer_secret ` +
          '(nor requirepass): anyone who can reach it can read and write the datastore. Running in Dynomite compatibility mode; ' +
          'set peer_secret on every node unless this is a mixed cluster with Dynomite nodes on a trusted network.',
      );
    }
    const dynomite = dynomiteSeedHosts(pool);
    if (dyn !== null && pool.peerSecret !== null && dynomite.length > 0) {
      warnings.push(
        `${file}: ${pool.name}.dyn_listen: the peer port serves connections from the Dynomite seeds' addresses (${dynomite.join(', ')}) ` +
          'without peer_secret: Dynomite cannot authenticate. Keep those addresses on a trusted network.',
      );
    }
  }
  return { pools, warnings, style };
}

/** Hosts of the seeds that run Dynomite (by their own peer_compat, else the pool's). */
function dynomiteSeedHosts(pool: PoolConfig): string[] {
  const hosts = pool.dynSeeds.map((text) => parseSeed(text)).filter((s) => (s.compat ?? pool.peerCompat) === 'dynomite').map((s) => s.host);
  return [...new Set(hosts)];
}

function readPools(root: unknown, file: string, lineOf: (node: unknown) => number): RawPool[] {
  if (root === null || (isScalar(root) && root.value === '')) {
    throw new ConfigError(file, 1, '', `${file}:1: the file defines no pool; expected "<pool name>:" with its settings`);
  }
  if (!isMap(root)) {
    throw new ConfigError(file, lineOf(root), '', `${file}:${lineOf(root)}: the file must map pool names to their settings`);
  }
  const pools: RawPool[] = [];
  for (const pair of root.items) {
    const line = lineOf(pair.key);
    if (!isScalar(pair.key) || String(pair.key.value) === '') {
      throw new ConfigError(file, line, '', `${file}:${line}: a pool name must be a plain word`);
    }
    const name = String(pair.key.value);
    const earlier = pools.find((pool) => pool.name === name);
    if (earlier !== undefined) {
      throw new ConfigError(file, line, '', `${file}:${line}: ${name}: pool defined twice (first at line ${earlier.line})`);
    }
    if (!isMap(pair.value)) {
      throw new ConfigError(file, line, '', `${file}:${line}: ${name}: a pool must be a mapping of settings (key: value)`);
    }
    const entries: RawEntry[] = [];
    for (const setting of pair.value.items) {
      const keyLine = lineOf(setting.key);
      if (!isScalar(setting.key)) {
        throw new ConfigError(file, keyLine, '', `${file}:${keyLine}: ${name}: a setting name must be a plain word`);
      }
      const key = String(setting.key.value);
      const twin = entries.find((entry) => entry.key === key);
      if (twin !== undefined) {
        throw valueError(file, keyLine, name, key, `is set twice (first at line ${twin.keyLine})`, null);
      }
      entries.push({ key, keyLine, value: setting.value });
    }
    pools.push({ name, line, entries });
  }
  return pools;
}

/**
 * twemproxy style needs a twemproxy-only key and no Dynomite cluster key anywhere in the file;
 * everything else is read as Dynomite, whose loader is the one ours descends from.
 */
function detectStyle(pools: RawPool[]): ConfigStyle {
  let twemproxy = false;
  for (const pool of pools) {
    for (const { key } of pool.entries) {
      if (DYNOMITE_MARKER_KEYS.has(key)) return 'dynomite';
      if (TWEMPROXY_MARKER_KEYS.has(key)) twemproxy = true;
    }
  }
  return twemproxy ? 'twemproxy' : 'dynomite';
}

function readPool(raw: RawPool, file: string, lineOf: (node: unknown) => number, warnings: string[]): PoolDraft {
  const values = new Map<DraftField, SetValue>();
  for (const entry of raw.entries) {
    const rule = KEY_RULES.get(entry.key);
    if (rule === undefined) {
      const guess = closestKey(entry.key);
      const hint = guess === null ? '' : ` (did you mean ${guess}?)`;
      warnings.push(`${file}:${entry.keyLine}: ${raw.name}.${entry.key}: unknown key, ignored${hint}`);
      continue;
    }
    const twin = values.get(rule.field);
    if (twin !== undefined) {
      const what = `sets the same setting as ${twin.key} (line ${twin.line}); keep one of them`;
      throw valueError(file, entry.keyLine, raw.name, entry.key, what, null);
    }
    values.set(rule.field, readValue(raw.name, entry, rule, file, lineOf));
  }
  return { name: raw.name, line: raw.line, values };
}

function readValue(
  pool: string,
  entry: RawEntry,
  rule: KeyRule,
  file: string,
  lineOf: (node: unknown) => number,
): SetValue {
  const node = entry.value;
  const line = node === null || node === undefined ? entry.keyLine : lineOf(node);
  const fail = (what: string, got: string | null): ConfigError =>
    valueError(file, line, pool, entry.key, what, rule.secret ? null : got);
  if (isAlias(node)) throw fail('YAML aliases are not supported here; write the value out', null);

  if (rule.list) {
    if (isScalar(node) && node.value === '') return { key: entry.key, line, value: [], itemLines: [] };
    if (!isSeq(node)) throw fail('must be a list, one "- item" per line', isScalar(node) ? String(node.value) : null);
    const value: unknown[] = [];
    const itemLines: number[] = [];
    for (const item of node.items) {
      const itemLine = lineOf(item);
      if (!isScalar(item)) {
        // An unquoted [::1]:6379:1 is a YAML flow list; say so, it is the likely cause.
        const hint = isSeq(item) ? ' (quote addresses that start with [, e.g. "[::1]:6379:1")' : '';
        throw valueError(file, itemLine, pool, entry.key, `each item must be a single string${hint}`, null);
      }
      value.push(parseText(String(item.value), rule, (what, got) => valueError(file, itemLine, pool, entry.key, what, got)));
      itemLines.push(itemLine);
    }
    return { key: entry.key, line, value, itemLines };
  }

  if (isSeq(node) || isMap(node)) {
    const hint = isSeq(node) && entry.key.endsWith('listen') ? ' (quote "[::1]:port")' : '';
    throw fail(`must be a single value, not a ${isSeq(node) ? 'list' : 'mapping'}${hint}`, null);
  }
  if (!isScalar(node) || (node.value === '' && node.type === 'PLAIN')) throw fail('has no value', null);
  return { key: entry.key, line, value: parseText(String(node.value), rule, fail), itemLines: [] };
}

function parseText(
  text: string,
  rule: KeyRule,
  fail: (what: string, got: string | null) => ConfigError,
): unknown {
  try {
    return rule.parse(text);
  } catch (error) {
    if (error instanceof ValueProblem) throw fail(error.message, rule.secret ? null : text);
    throw error;
  }
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
