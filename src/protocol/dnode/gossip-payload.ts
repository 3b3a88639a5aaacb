// Codec of Dynomite's GOSSIP_SYN payload: `dc$rack$token,unix_ts,state,host` node records joined by `|`.
// Pure: no I/O. Not on the request path (gossip runs every second or so), so it may build strings and arrays.

/** One node as gossip describes it. `state` is Dynomite's dyn_state_t number (see NODE_STATE in topology). */
export interface GossipNodeRecord {
  dc: string;
  rack: string;
  /** The token as text, exactly as sent (Dynomite's parse_dyn_token() reads it; see topology's parseDynToken). */
  token: string;
  /** Seconds since the epoch: the node's generation timestamp. */
  timestamp: number;
  state: number;
  /** Address only: gossip carries no port, every node listens on the pool's dyn_listen port. */
  host: string;
}

export type GossipParseResult = { ok: true; nodes: GossipNodeRecord[] } | { ok: false; error: string };

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

const TOKEN_TEXT = /^-?(?:0|[1-9][0-9]{0,9})$/;
const UNSIGNED_TEXT = /^(?:0|[1-9][0-9]*)$/;
// Dynomite splits records and fields by searching for these from the right; a name holding one is ambiguous.
const SEPARATORS = /[|,$]/;

function isTokenText(s: string): boolean {
  return TOKEN_TEXT.test(s) && Number(s.charCodeAt(0) === 45 ? s.slice(1) : s) <= 0xffffffff;
}

function fail(error: string): GossipParseResult {
  return { ok: false, error };
}

/**
 * Parses the node records in buf[start, end). Stricter than Dynomite (which splits from the right and never
 * fails): every record needs exactly its 3 commas and 2 dollars, non-empty names, decimal numbers without
 * leading zeros, and valid UTF-8. An empty payload holds no records.
 */
export function parseGossipNodes(buf: Uint8Array, start = 0, end = buf.length): GossipParseResult {
  if (start < 0 || end > buf.length || start > end) return fail(`range [${start}, ${end}) is outside the buffer`);
  if (start === end) return { ok: true, nodes: [] };
  let text: string;
  try {
    text = utf8Decoder.decode(buf.subarray(start, end));
  } catch {
    return fail('payload is not valid UTF-8');
  }
  const nodes: GossipNodeRecord[] = [];
  const records = text.split('|');
  for (let i = 0; i < records.length; i++) {
    const fields = records[i].split(',');
    if (fields.length !== 4) return fail(`record ${i}: expected "dc$rack$token,ts,state,host", got ${fields.length} fields`);
    const [hostId, ts, state, host] = fields;
    const id = hostId.split('$');
    if (id.length !== 3) return fail(`record ${i}: host id must be "dc$rack$token"`);
    const [dc, rack, token] = id;
    if (dc === '' || rack === '' || host === '' || SEPARATORS.test(host)) return fail(`record ${i}: empty dc, rack or host, or a $ in host`);
    if (!isTokenText(token)) return fail(`record ${i}: token is not a 32-bit decimal number`);
    if (!UNSIGNED_TEXT.test(ts) || ts.length > 15) return fail(`record ${i}: timestamp is not a decimal number`);
    if (!UNSIGNED_TEXT.test(state) || Number(state) > 255) return fail(`record ${i}: state is not a number in [0, 255]`);
    nodes.push({ dc, rack, token, timestamp: Number(ts), state: Number(state), host });
  }
  return { ok: true, nodes };
}

/** Encodes records as Dynomite does; throws RangeError on a record parseGossipNodes() would refuse. */
export function encodeGossipNodes(nodes: readonly GossipNodeRecord[]): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    for (const [name, value] of [['dc', n.dc], ['rack', n.rack], ['host', n.host]] as const) {
      if (value === '' || SEPARATORS.test(value)) throw new RangeError(`gossip record ${i}: ${name} is empty or holds | , or $`);
    }
    if (!isTokenText(n.token)) throw new RangeError(`gossip record ${i}: token ${JSON.stringify(n.token)} is not a decimal number`);
    if (!Number.isSafeInteger(n.timestamp) || n.timestamp < 0 || n.timestamp > 999_999_999_999_999) {
      throw new RangeError(`gossip record ${i}: timestamp ${n.timestamp} is not a non-negative integer`);
    }
    if (!Number.isInteger(n.state) || n.state < 0 || n.state > 255) throw new RangeError(`gossip record ${i}: state ${n.state} is not in [0, 255]`);
    parts.push(`${n.dc}$${n.rack}$${n.token},${n.timestamp},${n.state},${n.host}`);
  }
  return utf8Encoder.encode(parts.join('|'));
}
