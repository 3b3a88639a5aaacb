// DYNOPROXY.GOSSIP, dynoproxy's private peer-port command carrying membership: request `DYNOPROXY.GOSSIP <records>`, reply one bulk
// string of the answering node's records (both in Dynomite's GOSSIP_SYN payload format, dnode/gossip-payload.ts). Pure: no I/O, no state.
// Served only on an authenticated peer link; a Dynomite node gossips with dnode GOSSIP_SYN frames instead (answered as GOSSIP_SYN_REPLY).

export const GOSSIP_COMMAND = 'DYNOPROXY.GOSSIP';

/**
 * Before gossiping with a node, a node asks whether it runs dynoproxy with `GET <HELLO_KEY>`: a Dynomite node (one its seed does not
 * mark peer_compat=dynomite) answers it from its datastore (nil) instead of closing the link as it would on DYNOPROXY.GOSSIP.
 */
const HELLO_KEY = Buffer.from('\u0000dynoproxy:hello');
export const HELLO_REQUEST = Buffer.from(`*2\r\n$3\r\nGET\r\n$${HELLO_KEY.length}\r\n${HELLO_KEY.toString('latin1')}\r\n`, 'latin1');
export const HELLO_REPLY = Buffer.from('$11\r\ndynoproxy 1\r\n');

/** Whether a parsed request (argv as offsets into buf) is the hello: GET of the hello key. */
export function isHelloRequest(buf: Uint8Array, off: ArrayLike<number>, len: ArrayLike<number>, argc: number): boolean {
  if (argc !== 2 || len[1] !== HELLO_KEY.length || len[0] !== 3) return false;
  for (let i = 0; i < HELLO_KEY.length; i++) if (buf[off[1] + i] !== HELLO_KEY[i]) return false;
  return (buf[off[0]] | 0x20) === 0x67 && (buf[off[0] + 1] | 0x20) === 0x65 && (buf[off[0] + 2] | 0x20) === 0x74;
}

/** Whether a reply is a dynoproxy node's answer to the hello. */
export function isHelloReply(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== HELLO_REPLY.length) return false;
  for (let i = 0; i < HELLO_REPLY.length; i++) if (buf[start + i] !== HELLO_REPLY[i]) return false;
  return true;
}
const NAME = Buffer.from(GOSSIP_COMMAND.toLowerCase());

/** Whether argv[0] (bytes buf[off, off+len)) names DYNOPROXY.GOSSIP, in any case. */
export function isGossipCommand(buf: Uint8Array, off: number, len: number): boolean {
  if (len !== NAME.length) return false;
  for (let i = 0; i < len; i++) if ((buf[off + i] | 0x20) !== (NAME[i] | 0x20)) return false;
  return true;
}

/** `head`, the records, CRLF: the records as the last bulk string of a request, or as a reply. */
function withRecords(head: string, records: Uint8Array): Buffer {
  const h = Buffer.from(head);
  const out = Buffer.allocUnsafe(h.length + records.length + 2);
  h.copy(out, 0);
  out.set(records, h.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

export function encodeGossipRequest(records: Uint8Array): Buffer {
  return withRecords(`*2\r\n$${GOSSIP_COMMAND.length}\r\n${GOSSIP_COMMAND}\r\n$${records.length}\r\n`, records);
}

/** The reply: the records as one bulk string. */
export function encodeGossipReply(records: Uint8Array): Buffer {
  return withRecords(`$${records.length}\r\n`, records);
}

/** The records inside a gossip reply buf[start, end) as [from, to), or null when it is not exactly one bulk string (an error reply, say). */
export function gossipReplyRecords(buf: Uint8Array, start: number, end: number): [number, number] | null {
  if (end - start < 5 || buf[start] !== 0x24) return null;
  let i = start + 1;
  let n = 0;
  while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39 && i - start <= 10) n = n * 10 + (buf[i++] - 0x30);
  if (i === start + 1 || i + 1 >= end || buf[i] !== 13 || buf[i + 1] !== 10) return null;
  const from = i + 2;
  if (from + n + 2 !== end || buf[end - 2] !== 13 || buf[end - 1] !== 10) return null;
  return [from, from + n];
}

// A memcached pool's peer link frames replies as memcached replies: there the hello's and gossip's RESP requests go as they are (no
// memcached request starts with `*`), and their RESP reply comes back wrapped as one value, `VALUE dynoproxy_resp 0 <n>` ... `END`.
const MC_HEAD = 'VALUE dynoproxy_resp 0 ';

/** A RESP reply wrapped for a memcached peer link. */
export function wrapMemcacheResp(inner: Uint8Array): Buffer {
  const h = Buffer.from(`${MC_HEAD}${inner.length}\r\n`, 'latin1');
  const out = Buffer.allocUnsafe(h.length + inner.length + 7);
  h.copy(out, 0);
  out.set(inner, h.length);
  out.write('\r\nEND\r\n', h.length + inner.length, 'latin1');
  return out;
}

/** The RESP reply inside a wrapped one at buf[start, end) as [from, to), or null when it is not one. */
export function unwrapMemcacheResp(buf: Uint8Array, start: number, end: number): [number, number] | null {
  if (end - start < MC_HEAD.length + 10) return null;
  for (let i = 0; i < MC_HEAD.length; i++) if (buf[start + i] !== MC_HEAD.charCodeAt(i)) return null;
  let i = start + MC_HEAD.length;
  let n = 0;
  while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39 && i - start - MC_HEAD.length < 10) n = n * 10 + (buf[i++] - 0x30);
  if (i + 1 >= end || buf[i] !== 13 || buf[i + 1] !== 10) return null;
  const from = i + 2;
  if (from + n + 7 !== end) return null;
  return [from, from + n];
}
