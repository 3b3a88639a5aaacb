// TLS settings built from a pool's loaded TLS material: the client and peer ports' server options, and the client side of
// datastore and peer links. Never reads a file (config/ did, at load and SIGHUP) and never allows below TLS 1.2.
import tls from 'node:tls';
import { isIP } from 'node:net';
import type { BackendTlsConf, PoolConfig, TlsMaterial } from '../config/index.ts';

/** TLS 1.2 at least; 1.3 is Node's maximum and what both ends pick when they can. */
export const TLS_MIN_VERSION: tls.SecureVersion = 'TLSv1.2';
/** A client (or peer) that has not finished its handshake by then is dropped. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The context options of a TLS port: its certificate, and the CA that client (or peer) certificates must chain to. */
export function serverContextOptions(m: TlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ca: m.ca ?? undefined, minVersion: TLS_MIN_VERSION };
}

/**
 * Options of a TLS listener; `requireCert`: clients are asked for a certificate. Node's own rejectUnauthorized stays off:
 * the listener checks `authorized` itself, so that a refusal is counted (proxy/tls-ports.ts).
 */
export function serverOptions(m: TlsMaterial, requireCert: boolean): tls.TlsOptions {
  return { ...serverContextOptions(m), requestCert: requireCert, rejectUnauthorized: false, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS };
}

/** Per connection: what tls.connect needs beyond host and port (the context is built once per loaded material). */
export interface LinkTls {
  secureContext: tls.SecureContext;
  servername?: string;
  checkServerIdentity?: (host: string, cert: tls.PeerCertificate) => Error | undefined;
  minVersion: tls.SecureVersion;
  rejectUnauthorized: true;
}

/**
 * A peer link under secure_server_option: this node's certificate, and the peer's must chain to tls_ca. The peer's name is not
 * checked: every node of the cluster holds a certificate of the cluster's CA, and seeds are often written as addresses.
 */
export function peerLinkTls(m: TlsMaterial): LinkTls {
  return {
    secureContext: tls.createSecureContext({ cert: m.cert, key: m.key, ca: m.ca ?? undefined, minVersion: TLS_MIN_VERSION }),
    checkServerIdentity: () => undefined,
    minVersion: TLS_MIN_VERSION,
    rejectUnauthorized: true,
  };
}

/** A datastore link (`backend_tls`): the datastore's certificate must chain to backend_tls_ca (or the system's roots) and name the host or backend_tls_servername. */
export function backendLinkTls(c: BackendTlsConf, host: string): LinkTls {
  const ctx = tls.createSecureContext({ ca: c.ca ?? undefined, cert: c.cert ?? undefined, key: c.key ?? undefined, minVersion: TLS_MIN_VERSION });
  const name = c.servername ?? (isIP(host) === 0 ? host : undefined);
  return { secureContext: ctx, servername: name, minVersion: TLS_MIN_VERSION, rejectUnauthorized: true };
}

/** Whether peer links are mutual TLS: any secure_server_option but none (datacenter and rack mean all, see docs/tls.md). */
export function securePeers(c: PoolConfig): boolean {
  return c.secureServerOption !== 'none' && c.tls !== null;
}

const peerTlsCache = new WeakMap<TlsMaterial, LinkTls>();

/** What a link to a peer connects with (one context per loaded material), or null for plain links. */
export function peerLinkTlsOf(c: PoolConfig): LinkTls | null {
  if (!securePeers(c) || c.tls === null) return null;
  let t = peerTlsCache.get(c.tls);
  if (t === undefined) {
    t = peerLinkTls(c.tls);
    peerTlsCache.set(c.tls, t);
  }
  return t;
}


/** For ioredis side connections to a datastore (warm-up copies): its `tls` option under backend_tls, else undefined. */
export function backendTlsForRedis(c: BackendTlsConf | null, host: string): tls.ConnectionOptions | undefined {
  return c === null ? undefined : { ...backendLinkTls(c, host) };
}
