// Admin URL routing: a path -> the action it names, with its argument checked; Dynomite's paths, plus /metrics, /dashboard and /events.
// Never performs the action and never answers 200 to a path it does not know (Dynomite answers "OK" to anything; we say 404 or 400).
import { CONSISTENCIES, type Consistency } from '../config/index.ts';
import type { NodeStateName } from '../stats/index.ts';
import type { PeerVerb } from './node-control.ts';

export type Action =
  | { kind: 'info' | 'help' | 'ping' | 'describe' | 'cluster_describe' | 'get_consistency' | 'get_timeout_factor' | 'get_state' | 'metrics' | 'dashboard' | 'events'; mutates: false }
  | { kind: 'set_consistency'; mutates: true; op: 'read' | 'write'; level: Consistency }
  | { kind: 'set_timeout_factor'; mutates: true; value: number }
  | { kind: 'set_state'; mutates: true; state: NodeStateName }
  | { kind: 'warm_up'; mutates: true }
  | { kind: 'cleanup'; mutates: true }
  | { kind: 'leave'; mutates: true }
  | { kind: 'ring_plan'; mutates: false; nodes: number }
  /** POST /ring/move?token=T (or tokens=T1,T2): this node takes these tokens (leave, then join with them). */
  | { kind: 'ring_move'; mutates: true; tokens: string[] }
  /** GET /repair: the current or last run; POST /repair[?start=&end=]: start one (repairStart turns the first into the second). */
  | { kind: 'repair'; mutates: false }
  | { kind: 'repair_start'; mutates: true; range: { start: number; end: number } | null }
  | { kind: 'peer'; mutates: true; verb: PeerVerb; name: string }
  | { kind: 'log_level'; mutates: true; delta: number; value: number }
  | { kind: 'historeset'; mutates: true }
  | { kind: 'error'; mutates: false; status: 400 | 404; message: string };

export const HELP_TEXT = [
  '/info',
  '/help',
  '/ping',
  '/describe',
  '/cluster_describe',
  '/get_consistency',
  '/set_consistency/<read|write>/<dc_one|dc_quorum|dc_safe_quorum|dc_each_safe_quorum>',
  '/get_timeout_factor',
  '/set_timeout_factor/<1-10>',
  '/state/<get_state|standby|writes_only|resuming|normal>',
  '/state/warm_up',
  '/state/leaving',
  '/cleanup',
  '/ring/plan?nodes=<n>',
  '/ring/move?token=<token>[,<token>...] (POST: this node leaves, then joins again with these tokens)',
  '/repair (GET: progress and last result; POST: repair the node\'s range; POST /repair?start=<token>&end=<token>: that range)',
  '/peer/<up|down|reset>/<server name|all>',
  '/loglevelup',
  '/logleveldown',
  '/setloglevel/<0-11>',
  '/historeset',
  '/metrics',
  '/dashboard',
  '/events',
  '',
  '',
].join('\n');

const SIMPLE: Record<string, Action> = {
  '/': { kind: 'info', mutates: false },
  '/info': { kind: 'info', mutates: false },
  '/help': { kind: 'help', mutates: false },
  '/ping': { kind: 'ping', mutates: false },
  '/describe': { kind: 'describe', mutates: false },
  '/cluster_describe': { kind: 'cluster_describe', mutates: false },
  '/get_consistency': { kind: 'get_consistency', mutates: false },
  '/get_timeout_factor': { kind: 'get_timeout_factor', mutates: false },
  '/state/get_state': { kind: 'get_state', mutates: false },
  '/metrics': { kind: 'metrics', mutates: false },
  '/dashboard': { kind: 'dashboard', mutates: false },
  '/events': { kind: 'events', mutates: false },
  '/loglevelup': { kind: 'log_level', mutates: true, delta: 1, value: 0 },
  '/logleveldown': { kind: 'log_level', mutates: true, delta: -1, value: 0 },
  '/historeset': { kind: 'historeset', mutates: true },
  '/state/warm_up': { kind: 'warm_up', mutates: true },
  '/cleanup': { kind: 'cleanup', mutates: true },
  '/state/leaving': { kind: 'leave', mutates: true },
  '/repair': { kind: 'repair', mutates: false },
};

const U32 = /^\d{1,10}$/;

/**
 * POST /repair's query: nothing (the node's whole range) or start and end, ring positions 0..4294967295 (key hashes, the space
 * tokens live in) bounding an inclusive range; start > end wraps past 4294967295.
 */
export function repairStart(query: string): Action {
  const q = new URLSearchParams(query);
  for (const k of q.keys()) if (k !== 'start' && k !== 'end') return bad(`unknown parameter '${k.slice(0, 40)}' (use start and end)`);
  const start = q.get('start');
  const end = q.get('end');
  if (start === null && end === null) return { kind: 'repair_start', mutates: true, range: null };
  if (start === null || end === null) return bad('give both start and end (tokens 0..4294967295), or neither for the whole node');
  for (const [name, v] of [['start', start], ['end', end]] as const) {
    if (!U32.test(v) || Number(v) > 0xffffffff) return bad(`invalid ${name} token '${v.slice(0, 40)}' (an integer 0..4294967295)`);
  }
  return { kind: 'repair_start', mutates: true, range: { start: Number(start), end: Number(end) } };
}

/** POST /ring/move's query: token=T or tokens=T1,T2 (decimal 0..4294967295, Dynomite's comma-separated `tokens`). */
export function ringMove(query: string): Action {
  const q = new URLSearchParams(query);
  for (const k of q.keys()) if (k !== 'token' && k !== 'tokens') return bad(`unknown parameter '${k.slice(0, 40)}' (use token=<0..4294967295>)`);
  const all = q.getAll('token').concat(q.getAll('tokens'));
  if (all.length !== 1 || all[0] === '') return bad('use /ring/move?token=<0..4294967295> (or tokens=<t1,t2,...>), once');
  const tokens = all[0].split(',').map((t) => t.trim());
  if (tokens.length > 256) return bad(`${tokens.length} tokens (at most 256)`);
  for (const t of tokens) if (!U32.test(t) || Number(t) > 0xffffffff) return bad(`invalid token '${t.slice(0, 40)}' (an integer 0..4294967295)`);
  return { kind: 'ring_move', mutates: true, tokens: tokens.map((t) => String(Number(t))) };
}

const STATES: Record<string, NodeStateName> = { standby: 'STANDBY', writes_only: 'WRITES_ONLY', resuming: 'RESUMING', normal: 'NORMAL' };

function bad(message: string): Action {
  return { kind: 'error', mutates: false, status: 400, message };
}

export function route(rawPath: string, query = ''): Action {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return bad('malformed percent-encoding in the path');
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const simple = SIMPLE[path];
  if (simple !== undefined) return simple;
  const parts = path.split('/').slice(1);
  switch (parts[0]) {
    case 'set_consistency': {
      const [, op, level] = parts;
      if (parts.length !== 3 || (op !== 'read' && op !== 'write')) return bad('use /set_consistency/<read|write>/<level>');
      // Dynomite compares the level case-insensitively (dn_strcasecmp).
      const c = CONSISTENCIES.find((x) => x === level.toUpperCase());
      if (c === undefined) return bad(`unknown consistency '${level}': one of ${CONSISTENCIES.map((x) => x.toLowerCase()).join(', ')}`);
      return { kind: 'set_consistency', mutates: true, op, level: c };
    }
    case 'set_timeout_factor': {
      const v = parts[1] ?? '';
      if (parts.length !== 2 || !/^-?\d{1,9}$/.test(v)) return bad('use /set_timeout_factor/<integer 1-10>');
      return { kind: 'set_timeout_factor', mutates: true, value: Number(v) };
    }
    case 'setloglevel': {
      const v = parts[1] ?? '';
      if (parts.length !== 2 || !/^\d{1,2}$/.test(v) || Number(v) > 11) return bad('use /setloglevel/<0-11> (Dynomite levels: 5 notice, 6 info, 7 debug, 8+ verbose)');
      return { kind: 'log_level', mutates: true, delta: 0, value: Number(v) };
    }
    case 'state': {
      const s = STATES[parts[1] ?? ''];
      if (parts.length !== 2 || s === undefined) return { kind: 'error', mutates: false, status: 404, message: 'use /state/<get_state|standby|writes_only|resuming|normal|warm_up|leaving>' };
      return { kind: 'set_state', mutates: true, state: s };
    }
    case 'ring': {
      if (parts[1] === 'move' && parts.length === 2) return ringMove(query);
      const fromQuery = /(?:^|&)nodes=(\d{1,4})(?:&|$)/.exec(query)?.[1];
      const v = parts[2] ?? fromQuery ?? '';
      if (parts[1] !== 'plan' || parts.length > 3 || !/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 1024) return bad('use /ring/plan?nodes=<1-1024>');
      return { kind: 'ring_plan', mutates: false, nodes: Number(v) };
    }
    case 'peer': {
      const verb = parts[1];
      const name = parts.slice(2).join('/');
      if ((verb !== 'up' && verb !== 'down' && verb !== 'reset') || name === '') return bad('use /peer/<up|down|reset>/<server name|all>');
      return { kind: 'peer', mutates: true, verb, name };
    }
    default:
      return { kind: 'error', mutates: false, status: 404, message: `unknown path ${JSON.stringify(rawPath.slice(0, 200))}; see /help` };
  }
}
