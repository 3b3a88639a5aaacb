// TLS keys of one pool: reads the certificate, key and CA files (paths relative to the config file's directory) and checks them.
// Must never start a pool with TLS material it could not parse: a missing file, a key that is not the certificate's, or a CA
// that holds no certificate each stop the load (or the SIGHUP reload) with the key and the file named.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { valueError, type ConfigError } from './config-error.ts';
import { parseSeed } from './parse-address.ts';
import type { BackendTlsConf, PoolConfig, TlsMaterial } from './pool-config.ts';
import type { DraftField } from './pool-keys.ts';

type Fail = (field: DraftField, what: string) => ConfigError;

/** What this module reads of build-pool's PoolDraft (kept structural: build-pool imports this module). */
interface Draft {
  name: string;
  line: number;
  values: ReadonlyMap<DraftField, { key: string; line: number; value: unknown }>;
}

function readPem(path: string, field: DraftField, fail: Fail): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw fail(field, `cannot read ${path} (${code === 'ENOENT' ? 'no such file' : code})`);
  }
}

function certOf(pem: string, path: string, field: DraftField, fail: Fail): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw fail(field, `${path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
}

function keyOf(pem: string, path: string, field: DraftField, fail: Fail): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw fail(field, `${path} holds no usable private key (an unencrypted PEM key is expected): ${(error as Error).message}`);
  }
}

/** Every certificate of a CA bundle parses (Node would otherwise ignore a broken one and refuse every peer). */
function checkBundle(pem: string, path: string, field: DraftField, fail: Fail): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw fail(field, `${path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  for (const b of blocks) certOf(b, path, field, fail);
}

/** A certificate and its key, checked to belong together. */
function pair(certPath: string, keyPath: string, certField: DraftField, keyField: DraftField, fail: Fail): { cert: string; key: string } {
  const cert = readPem(certPath, certField, fail);
  const key = readPem(keyPath, keyField, fail);
  const x509 = certOf(cert, certPath, certField, fail);
  if (!x509.checkPrivateKey(keyOf(key, keyPath, keyField, fail))) {
    throw fail(keyField, `${keyPath} is not the private key of the certificate in ${certPath} (${x509.subject.replace(/\n/g, ', ')})`);
  }
  return { cert, key };
}

/** Reads and checks the pool's TLS files into `pool` (tls, backendTls, adminTls); the rules that tie the keys together. */
export function readTlsFiles(draft: Draft, pool: PoolConfig, file: string): void {
  const fail: Fail = (field, what) => {
    const set = draft.values.get(field);
    return valueError(file, set?.line ?? draft.line, draft.name, set?.key ?? field, what, null);
  };
  const str = (field: DraftField): string | null => {
    const v = draft.values.get(field)?.value;
    return typeof v === 'string' ? resolve(dirname(file), v) : null;
  };
  const flag = (field: DraftField): boolean => draft.values.get(field)?.value === true;
  pool.tlsCert = str('tlsCert');
  pool.tlsKey = str('tlsKey');
  pool.tlsCa = str('tlsCa');
  pool.tlsClientAuth = flag('tlsClientAuth');

  if ((pool.tlsCert === null) !== (pool.tlsKey === null)) {
    throw fail(pool.tlsCert === null ? 'tlsKey' : 'tlsCert', 'tls_cert and tls_key go together: give both, or neither');
  }
  if (pool.tlsCa !== null && pool.tlsCert === null) throw fail('tlsCa', 'needs tls_cert and tls_key (the port it verifies clients or peers on speaks TLS)');
  if (pool.tlsClientAuth && pool.tlsCa === null) throw fail('tlsClientAuth', 'needs tls_ca: client certificates are verified against it');
  if (pool.tlsClientAuth && !pool.clientTls) throw fail('tlsClientAuth', 'asks client certificates on a port client_tls: false keeps plain');
  if (pool.secureServerOption !== 'none') {
    if (pool.tlsCa === null) throw fail('secureServerOption', `${pool.secureServerOption} means mutual TLS between peers: it needs tls_cert, tls_key and tls_ca (the CA every node's certificate chains to)`);
    if (pool.dynListen === null) throw fail('secureServerOption', 'applies to the peer port: add dyn_listen');
    const dynomite = pool.dynSeeds.find((text) => (parseSeed(text).compat ?? pool.peerCompat) === 'dynomite');
    if (dynomite !== undefined) throw fail('secureServerOption', `means TLS on every peer link, and the Dynomite seed ${dynomite} speaks none (Dynomite's own RSA+AES scheme is not implemented)`);
  }
  let tls: TlsMaterial | null = null;
  if (pool.tlsCert !== null && pool.tlsKey !== null) {
    const { cert, key } = pair(pool.tlsCert, pool.tlsKey, 'tlsCert', 'tlsKey', fail);
    let ca: string | null = null;
    if (pool.tlsCa !== null) {
      ca = readPem(pool.tlsCa, 'tlsCa', fail);
      checkBundle(ca, pool.tlsCa, 'tlsCa', fail);
    }
    tls = { cert, key, ca };
  }
  pool.tls = tls;

  pool.adminTls = null;
  if (flag('adminTlsOn')) {
    if (tls === null) throw fail('adminTlsOn', 'serves HTTPS with tls_cert and tls_key: give them');
    pool.adminTls = { cert: tls.cert, key: tls.key, ca: null };
  }

  const servername = draft.values.get('backendTlsServername')?.value;
  pool.backendTls = backendTls(str, flag, fail, tls, typeof servername === 'string' ? servername : null);
}

function backendTls(
  str: (f: DraftField) => string | null, flag: (f: DraftField) => boolean, fail: Fail, tls: TlsMaterial | null, servername: string | null,
): BackendTlsConf | null {
  const caPath = str('backendTlsCa');
  const certPath = str('backendTlsCert');
  const keyPath = str('backendTlsKey');
  if (!flag('backendTlsOn')) {
    for (const f of ['backendTlsCa', 'backendTlsServername', 'backendTlsCert', 'backendTlsKey'] as const) {
      if (str(f) !== null) throw fail(f, 'has no effect without backend_tls: true');
    }
    return null;
  }
  if ((certPath === null) !== (keyPath === null)) throw fail(certPath === null ? 'backendTlsKey' : 'backendTlsCert', 'backend_tls_cert and backend_tls_key go together');
  let ca: string | null = null;
  if (caPath !== null) {
    ca = readPem(caPath, 'backendTlsCa', fail);
    checkBundle(ca, caPath, 'backendTlsCa', fail);
  }
  const own = certPath !== null && keyPath !== null ? pair(certPath, keyPath, 'backendTlsCert', 'backendTlsKey', fail) : null;
  return { ca, servername, cert: own?.cert ?? tls?.cert ?? null, key: own?.key ?? tls?.key ?? null };
}
