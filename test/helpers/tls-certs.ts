// Test certificates made with the openssl CLI into a temp dir: two CAs (the trusted one and a stranger's), server and client certificates.
// It must never write outside its temp dir (removed in teardown), nor make keys anyone would use outside a test (2048-bit RSA, 2 days).

import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { registerTempDir, removeTempDir } from './child-process-handle.ts'

export type CertPair = { cert: string; key: string }

export type TestCerts = {
  dir: string
  /** The trusted CA (tls_ca). */
  ca: string
  /** Server certificate for localhost / 127.0.0.1, signed by the CA. */
  server: CertPair
  /** A second server certificate (another CN and serial): what a reload should start serving. */
  server2: CertPair
  /** Client certificate signed by the CA. */
  client: CertPair
  /** Client certificate signed by a CA nobody trusts. */
  stranger: CertPair
  /** Another CA's file (the stranger's), e.g. to swap in as tls_ca. */
  strangerCa: string
  /** Makes one more pair signed by the trusted CA. */
  issue(name: string, cn: string): CertPair
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`])
}

function issue(dir: string, ca: string, name: string, cn: string): CertPair {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`])
  writeFileSync(path.join(dir, `${name}.ext`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`])
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) }
}

/** Makes the certificates; the dir is removed in `t`'s teardown. */
export function makeTestCerts(t: Test): TestCerts {
  const dir = registerTempDir(mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-itest-tls-')))
  t.teardown(() => removeTempDir(dir))
  makeCa(dir, 'ca')
  makeCa(dir, 'strangerca')
  return {
    dir,
    ca: path.join(dir, 'ca.crt'),
    server: issue(dir, 'ca', 'server', 'dynoproxy-one'),
    server2: issue(dir, 'ca', 'server2', 'dynoproxy-two'),
    client: issue(dir, 'ca', 'client', 'client'),
    stranger: issue(dir, 'strangerca', 'stranger', 'client'),
    strangerCa: path.join(dir, 'strangerca.crt'),
    issue: (name, cn) => issue(dir, 'ca', name, cn),
  }
}
