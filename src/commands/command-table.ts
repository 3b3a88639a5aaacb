// The assembled command table: specs with dense ids, and the byte-level lookup from a request's argv to its spec.
// Lookup never allocates: no string conversion of request bytes; one open-addressing table is built once at load.
import { FLAG_NAMES, F_READONLY, F_WRITE, type CommandSpec } from './command-spec.ts';
import type { CommandRow } from './table-rows.ts';
import { DATA_TYPE_COMMANDS } from './table-data-types.ts';
import { KEYSPACE_COMMANDS } from './table-keyspace.ts';
import { SERVER_COMMANDS } from './table-server.ts';

interface MutableSpec {
  id: number;
  name: string;
  arity: number;
  flags: number;
  group: string;
  keys: CommandSpec['keys'];
  route: CommandSpec['route'];
  refusal: string | undefined;
  note: string | undefined;
  since: string | undefined;
  subcommands: CommandSpec[] | undefined;
  parent: CommandSpec | undefined;
}

/** Every spec, containers and subcommands alike, indexed by id (slot 0 stays empty). */
const byId: CommandSpec[] = [undefined as unknown as CommandSpec];

function parseFlags(name: string, flags: string): number {
  let bits = 0;
  for (const f of flags.split(' ')) {
    if (f === '') continue;
    const bit = FLAG_NAMES.indexOf(f);
    if (bit < 0) throw new Error(`command table: '${name}' has unknown flag '${f}'`);
    bits |= 1 << bit;
  }
  return bits;
}

function build(row: CommandRow, parent: CommandSpec | undefined): CommandSpec {
  const name = parent === undefined ? row.name : `${parent.name}|${row.name}`;
  // Every spec gets every property, in one order, so the hot path sees one object shape.
  const spec: MutableSpec = {
    id: byId.length,
    name,
    arity: row.arity,
    flags: parseFlags(name, row.flags),
    group: row.group,
    keys: row.keys,
    route: row.route,
    refusal: row.refusal,
    note: row.note,
    since: row.since,
    subcommands: undefined,
    parent,
  };
  byId.push(spec);
  if (row.subcommands !== undefined) spec.subcommands = row.subcommands.map((s) => build(s, spec));
  return spec;
}

export const COMMANDS: readonly CommandSpec[] = [...DATA_TYPE_COMMANDS, ...KEYSPACE_COMMANDS, ...SERVER_COMMANDS]
  .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  .map((row) => build(row, undefined));

/** Every spec including subcommands, in id order. */
export const ALL_COMMANDS: readonly CommandSpec[] = byId.slice(1);

export function specById(id: number): CommandSpec | undefined {
  return id > 0 && id < byId.length ? byId[id] : undefined;
}

// Open addressing keyed by (container id or 0, lowercased name bytes). Sized for a load factor under 1/2.
const SLOTS = 1 << Math.ceil(Math.log2(byId.length * 2 + 1));
const MASK = SLOTS - 1;
const slotId = new Int32Array(SLOTS);
/** The name a slot matches: the part after '|' for subcommands. */
const slotName: string[] = new Array<string>(SLOTS).fill('');

function seedFor(parentId: number): number {
  return 0x811c9dc5 ^ Math.imul(parentId, 0x9e3779b1);
}

// FNV-1a over lowercased bytes, reduced to a slot index here: returning the full uint32 would box it in a
// HeapNumber whenever the call is not inlined.
function slotOfString(seed: number, s: string): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h & MASK;
}

function slotOfBytes(seed: number, buf: Uint8Array, off: number, len: number): number {
  let h = seed;
  for (let i = off, end = off + len; i < end; i++) {
    const b = buf[i];
    h = Math.imul(h ^ (b >= 65 && b <= 90 ? b | 32 : b), 0x01000193);
  }
  return h & MASK;
}

for (const spec of ALL_COMMANDS) {
  const parentId = spec.parent === undefined ? 0 : spec.parent.id;
  const local = spec.parent === undefined ? spec.name : spec.name.slice(spec.parent.name.length + 1);
  let i = slotOfString(seedFor(parentId), local);
  while (slotId[i] !== 0) {
    const other = byId[slotId[i]];
    if (other.parent === spec.parent && slotName[i] === local) throw new Error(`command table: '${spec.name}' appears twice`);
    i = (i + 1) & MASK;
  }
  slotId[i] = spec.id;
  slotName[i] = local;
}

/** Case-insensitive byte compare of buf[off, off+len) with a lowercase ASCII name. */
export function bytesEqualName(buf: Uint8Array, off: number, len: number, name: string): boolean {
  if (len !== name.length) return false;
  for (let i = 0; i < len; i++) {
    const b = buf[off + i];
    if ((b >= 65 && b <= 90 ? b | 32 : b) !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** The spec named by buf[off, off+len), case-insensitive: a top-level command, or a subcommand of parent. */
export function findCommand(parent: CommandSpec | undefined, buf: Uint8Array, off: number, len: number): CommandSpec | undefined {
  const parentId = parent === undefined ? 0 : parent.id;
  let i = slotOfBytes(seedFor(parentId), buf, off, len);
  for (;;) {
    const id = slotId[i];
    if (id === 0) return undefined;
    const spec = byId[id];
    if (spec.parent === parent && bytesEqualName(buf, off, len, slotName[i])) return spec;
    i = (i + 1) & MASK;
  }
}

/**
 * The spec for a request, from argv[0] (and argv[1] for containers), case-insensitive; undefined when unknown.
 * A container with no subcommand resolves to the container itself, whose arity then fails as in Redis
 * (COMMAND alone is valid). An unknown subcommand gives undefined: unknownCommandError() words it as
 * Redis does ("unknown subcommand 'x'. Try CLIENT HELP.").
 */
export function resolveCommand(buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): CommandSpec | undefined {
  if (argc < 1) return undefined;
  const spec = findCommand(undefined, buf, argOff[0], argLen[0]);
  if (spec === undefined || spec.subcommands === undefined || argc < 2) return spec;
  return findCommand(spec, buf, argOff[1], argLen[1]);
}

/** Redis' arity rule: exact argc when positive, at least -arity when negative. */
export function arityOk(spec: CommandSpec, argc: number): boolean {
  const a = spec.arity;
  return a >= 0 ? argc === a : argc >= -a;
}

/** Routed by its keys to their owner(s): one owner, one owner required, or split per owner (the peer port serves only these). */
export function isKeyedRoute(spec: CommandSpec): boolean {
  const r = spec.route;
  return r === 'single' || r === 'same-node' || r === 'split-concat' || r === 'split-sum' || r === 'split-pairs';
}

/** A write, for replication and read/write routing: Redis' write flag, or a keyed command not marked read-only (EVAL, FCALL). */
export function isWrite(spec: CommandSpec): boolean {
  if ((spec.flags & F_WRITE) !== 0) return true;
  return (spec.flags & F_READONLY) === 0 && spec.keys.kind !== 'none' && spec.route !== 'refused' && spec.route !== 'proxy';
}
