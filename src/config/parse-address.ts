// Parsers for the colon-separated strings of twemproxy/Dynomite files: listen, servers, seeds, tokens.
// Must never resolve names or touch the network: a config is checked offline, hosts are resolved at connect.

import { isIP } from 'node:net';
import { ValueProblem } from './config-error.ts';
import { PEER_COMPATS, type DynSeed, type HostPort, type PeerCompat, type ServerConf } from './pool-config.ts';

/** Port 11211 is left out of a server's default name, for libmemcached's ketama points (twemproxy). */
const KETAMA_PORT_OMITTED = 11211;

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const DIGITS = /^[0-9]+$/;

interface SplitAddress extends HostPort {
  /** `host:port` exactly as written, brackets included: the default ketama name. */
  written: string;
}

function parsePort(text: string): number {
  if (!DIGITS.test(text)) throw new ValueProblem('port must be a number from 1 to 65535');
  const port = Number(text);
  if (port < 1 || port > 65535) throw new ValueProblem('port must be a number from 1 to 65535');
  return port;
}

function checkHost(host: string): void {
  if (host === '') throw new ValueProblem('host is missing; write host:port');
  if (host.includes(':')) {
    throw new ValueProblem('an IPv6 address must be written in brackets, e.g. [::1]:8102');
  }
  if (isIP(host) === 0 && !HOSTNAME.test(host)) throw new ValueProblem('host is not a valid name or address');
}

/** Splits `host:port` / `[v6]:port` at the last colon outside brackets. */
function splitAddress(text: string): SplitAddress {
  if (text.startsWith('/')) {
    throw new ValueProblem('unix socket paths are not supported; write host:port');
  }
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ValueProblem('missing ] after the IPv6 address');
    const host = text.slice(1, close);
    if (isIP(host) !== 6) throw new ValueProblem('the address in brackets is not IPv6');
    if (text[close + 1] !== ':') throw new ValueProblem('port is missing; write [v6 address]:port');
    return { host, port: parsePort(text.slice(close + 2)), written: text };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new ValueProblem('must be host:port');
  const host = text.slice(0, colon);
  checkHost(host);
  return { host, port: parsePort(text.slice(colon + 1)), written: text };
}

/** `127.0.0.1:8102`, `0.0.0.0:8102`, `[::1]:8102`, `localhost:8102`. */
export function parseHostPort(text: string): HostPort {
  if (/\s/.test(text)) {
    throw new ValueProblem(
      text.startsWith('/') ? 'unix socket paths are not supported; write host:port' : 'must be host:port, without spaces',
    );
  }
  const { host, port } = splitAddress(text);
  return { host, port };
}

/** Splits off the optional ` name` that servers and seeds may end with (the first space starts it). */
function splitName(text: string): { body: string; name: string | null } {
  const space = text.search(/\s/);
  if (space < 0) return { body: text, name: null };
  const name = text.slice(space + 1).trim();
  if (name === '' || /\s/.test(name)) throw new ValueProblem('the name after the address must be one word');
  return { body: text.slice(0, space), name };
}

/** `host:port:weight [name]`; see ServerConf for how the default name is formed. */
export function parseServer(text: string): ServerConf {
  const { body, name } = splitName(text);
  if (body.startsWith('/')) throw new ValueProblem('unix socket paths are not supported; write host:port:weight');
  const colon = body.lastIndexOf(':');
  const weightText = body.slice(colon + 1);
  if (colon < 0 || !DIGITS.test(weightText)) {
    throw new ValueProblem('must be host:port:weight [name], e.g. 127.0.0.1:6379:1');
  }
  const weight = Number(weightText);
  // twemproxy refuses 0 ("has a zero weight"): a server with no ketama points receives no keys.
  if (weight < 1 || weight > 1_000_000) throw new ValueProblem('weight must be a number from 1 to 1000000');
  const addressText = body.slice(0, colon);
  // `host:port` alone reads as host `host`, port-as-weight: name the whole format, not the half.
  if (!addressText.includes(':')) throw new ValueProblem('must be host:port:weight [name], e.g. 127.0.0.1:6379:1');
  const address = splitAddress(addressText);
  const defaultName =
    address.port === KETAMA_PORT_OMITTED ? address.written.slice(0, address.written.lastIndexOf(':')) : address.written;
  return { host: address.host, port: address.port, weight, name: name ?? defaultName };
}

/** Dynomite's `tokens`: decimal numbers, comma separated (dyn_token.c derive_tokens()). */
export function parseTokenList(text: string): string[] {
  const tokens = text.split(',').map((token) => token.trim());
  for (const token of tokens) {
    if (!DIGITS.test(token)) throw new ValueProblem('tokens must be decimal numbers separated by commas');
  }
  return tokens;
}

/** A rack or datacenter name: it is a field of the colon-separated seed strings, so no colons. */
export function parseLabel(text: string): string {
  if (text === '') throw new ValueProblem('must not be empty');
  if (/[\s:]/.test(text)) throw new ValueProblem('must not contain spaces or colons');
  return text;
}

/**
 * The words after a seed's address: an optional name, then options written `key=value` (only `peer_compat=dynoproxy|dynomite`).
 * The address part stays exactly Dynomite's, so a Dynomite seed list pastes in unchanged.
 */
function splitSeedWords(text: string): { body: string; name: string | null; compat: PeerCompat | null } {
  const words = text.trim().split(/\s+/);
  const body = words[0] ?? '';
  let name: string | null = null;
  let compat: PeerCompat | null = null;
  for (const word of words.slice(1)) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      if (name !== null || compat !== null) throw new ValueProblem('write the seed as host:port:rack:dc:tokens [name] [peer_compat=dynoproxy|dynomite]');
      name = word;
      continue;
    }
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (key !== 'peer_compat') throw new ValueProblem(`unknown seed option '${key}'; the only one is peer_compat=dynoproxy|dynomite`);
    if (compat !== null) throw new ValueProblem('peer_compat is given twice');
    const known = PEER_COMPATS.find((c) => c === value);
    if (known === undefined) throw new ValueProblem(`peer_compat must be one of ${PEER_COMPATS.join(', ')}`);
    compat = known;
  }
  return { body, name, compat };
}

/** `host:port:rack:dc:tokens [name] [peer_compat=...]`, the address read from the right as Dynomite's conf_add_dyn_server() does. */
export function parseSeed(text: string): DynSeed {
  const { body, name, compat } = splitSeedWords(text);
  const fields: string[] = [];
  let rest = body;
  for (let i = 0; i < 3; i++) {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw new ValueProblem('must be host:port:rack:dc:tokens [name]');
    fields.push(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  const [tokens, datacenter, rack] = fields as [string, string, string];
  if (!rest.includes(':')) throw new ValueProblem('must be host:port:rack:dc:tokens [name]');
  const address = splitAddress(rest);
  return {
    host: address.host,
    port: address.port,
    rack: parseLabel(rack),
    datacenter: parseLabel(datacenter),
    tokens: parseTokenList(tokens),
    name,
    compat,
  };
}
