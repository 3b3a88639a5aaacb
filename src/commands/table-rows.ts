// Row builders for the command table files: compact constructors for key layouts, routes and refusal reasons.
// Data helpers only: never looks at request bytes and never holds state.
import type { KeySpec, OptionRule, Route } from './command-spec.ts';

/** A table entry before ids are assigned; `flags` are Redis flag names separated by spaces. */
export interface CommandRow {
  readonly name: string;
  readonly arity: number;
  readonly flags: string;
  readonly group: string;
  readonly keys: KeySpec;
  readonly route: Route;
  readonly refusal?: string;
  readonly note?: string;
  readonly since?: string;
  readonly subcommands?: readonly CommandRow[];
}

export interface RowExtras {
  readonly note?: string;
  readonly since?: string;
}

export const NONE: KeySpec = { kind: 'none' };
export const K1: KeySpec = { kind: 'range', first: 1, last: 1, step: 1 };
/** A subcommand's key right after the subcommand name: OBJECT ENCODING key, XINFO STREAM key. */
export const K2: KeySpec = { kind: 'range', first: 2, last: 2, step: 1 };

export function range(first: number, last: number, step: number): KeySpec {
  return { kind: 'range', first, last, step };
}

type NumkeysErrors = 'eval' | 'fcall' | 'zset' | 'intercard' | 'mpop';

export function numkeys(
  numkeysIndex: number,
  errors: NumkeysErrors,
  opts: { minKeys?: number; trailing?: number; extra?: readonly number[] } = {},
): KeySpec {
  return {
    kind: 'numkeys',
    numkeysIndex,
    firstKey: numkeysIndex + 1,
    minKeys: opts.minKeys ?? 1,
    trailing: opts.trailing ?? 0,
    ...(opts.extra !== undefined ? { extra: opts.extra } : {}),
    errors,
  };
}

export function options(fixed: readonly number[], start: number, strict: boolean, rules: readonly OptionRule[]): KeySpec {
  return { kind: 'options', fixed, start, options: rules, strict };
}

/** Rows of one Redis group; the group name is written once per section. */
export function inGroup(group: string, rows: readonly Omit<CommandRow, 'group'>[]): CommandRow[] {
  return rows.map((r) => ({ ...r, group, ...(r.subcommands !== undefined ? { subcommands: r.subcommands.map((s) => ({ ...s, group })) } : {}) }));
}

/** A command the proxy handles (any route but 'refused'). */
export function c(name: string, arity: number, flags: string, keys: KeySpec, route: Exclude<Route, 'refused'>, extras: RowExtras = {}): Omit<CommandRow, 'group'> {
  return { name, arity, flags, keys, route, ...extras };
}

/** A refused command with the reason the client will read after "-ERR ". */
export function no(name: string, arity: number, flags: string, keys: KeySpec, refusal: string, extras: RowExtras = {}): Omit<CommandRow, 'group'> {
  return { name, arity, flags, keys, route: 'refused', refusal, ...extras };
}

/**
 * A container (CLIENT, SCRIPT, OBJECT ...). Its own entry is only reached with no subcommand, where
 * the arity check answers, so it is 'proxy'; COMMAND alone is the one container call that is valid.
 */
export function box(name: string, arity: number, flags: string, subs: readonly Omit<CommandRow, 'group'>[], extras: RowExtras = {}): Omit<CommandRow, 'group'> {
  return { name, arity, flags, keys: NONE, route: 'proxy', subcommands: subs.map((s) => ({ ...s, group: '' })), ...extras };
}

const DYN = 'is not supported through dynoproxy';

export function blocking(name: string): string {
  return `${name} ${DYN}: a blocking command would stall a backend connection shared by many clients`;
}

export function perBackend(name: string): string {
  return `${name} ${DYN}: it reads or changes the state of one backend server; run it on each backend directly`;
}


export function onlyDb0(name: string): string {
  return `${name} ${DYN}: the proxy serves database 0 only`;
}

export function pubsub(name: string): string {
  return `${name} ${DYN}: pub/sub needs its own connection to one server and is not sharded by the proxy`;
}

export function cluster(name: string): string {
  return `${name} ${DYN}: dynoproxy is not a Redis Cluster node; use it as a single Redis server`;
}

export function replication(name: string): string {
  return `${name} ${DYN}: replication between backends is managed by dynoproxy`;
}

