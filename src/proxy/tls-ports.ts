// The listeners of a pool, plain or TLS (tls_cert on the client port; secure_server_option on the peer port), and SIGHUP's new certificates.
// Never serves a connection whose handshake failed (no client certificate where one is required, plain text on a TLS port): it is
// counted and closed; never lets a reload change an open connection (new ones get the new certificate).
import net from 'node:net';
import tls from 'node:tls';
import type { PoolConfig, TlsMaterial } from '../config/index.ts';
import { serverOptions, serverContextOptions, backendLinkTls, securePeers, type BackendServer } from '../io/index.ts';

export { securePeers, peerLinkTlsOf } from '../io/index.ts';

const PLAIN_OPTIONS: net.ServerOpts = { noDelay: true, keepAlive: true, pauseOnConnect: true };

/**
 * A listening server: net.Server without material, tls.Server with it. Accepted TLS sockets reach `onSocket` after their
 * handshake, paused, like plain ones; they are net.Socket subclasses read through the same static buffer (static-read.ts).
 */
function listener(material: TlsMaterial | null, requireCert: boolean, onSocket: (s: net.Socket) => void, onHandshakeFailure: () => void): net.Server {
  if (material === null) return net.createServer(PLAIN_OPTIONS, onSocket);
  // Client certificates are checked here rather than by Node's rejectUnauthorized (which closes without telling), so a refusal is counted.
  const srv = tls.createServer({ ...PLAIN_OPTIONS, ...serverOptions(material, requireCert) }, (s: tls.TLSSocket) => {
    if ((srv as unknown as { requestCert: boolean }).requestCert && !s.authorized) {
      onHandshakeFailure();
      s.destroy();
      return;
    }
    onSocket(s);
  });
  srv.on('tlsClientError', (_err, sock) => {
    onHandshakeFailure();
    sock.destroy();
  });
  return srv;
}

/** The client port: TLS when tls_cert is set, client certificates required with tls_client_auth. */
export function clientListener(c: PoolConfig, onSocket: (s: net.Socket) => void, onHandshakeFailure: () => void): net.Server {
  return listener(c.clientTls ? c.tls : null, c.tlsClientAuth, onSocket, onHandshakeFailure);
}

/** The peer port: mutual TLS under secure_server_option (a peer's certificate must chain to tls_ca), else plain. */
export function peerListener(c: PoolConfig, onSocket: (s: net.Socket) => void, onRefused: () => void): net.Server {
  return listener(securePeers(c) ? c.tls : null, true, onSocket, onRefused);
}

/** Datastore links under backend_tls (per server: its host names the certificate unless backend_tls_servername does). */
export function applyBackendTls(c: PoolConfig, servers: readonly BackendServer[]): void {
  for (const s of servers) s.linkTls = c.backendTls === null ? null : backendLinkTls(c.backendTls, s.host);
}

/**
 * SIGHUP: new certificates (and CA, and tls_client_auth) for connections accepted from now on; open ones keep theirs.
 * Turning TLS on or off on a port needs a restart (the supervisor says so): a plain listener stays plain.
 */
export function reloadListener(server: net.Server, material: TlsMaterial | null, requireCert: boolean): void {
  if (!(server instanceof tls.Server) || material === null) return;
  server.setSecureContext(serverContextOptions(material));
  const opts = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
  opts.requestCert = requireCert;
  opts.rejectUnauthorized = false;
}
