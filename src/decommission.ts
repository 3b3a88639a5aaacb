// `dynoproxy --decommission -c FILE`: asks the running node of that config (its admin port, `stats_listen`) to leave the ring
// (POST /state/leaving: it hands its range to its rack's other nodes) and follows the hand-over until the node reads `left`.
// Never hangs: every admin call has a timeout, and the whole run is bounded (`--timeout`, seconds).
import http from 'node:http';
import https from 'node:https';
import type { PoolConfig } from './config/index.ts';

interface Answer {
  status: number;
  body: string;
}

function call(pool: PoolConfig, method: 'GET' | 'POST', path: string): Promise<Answer> {
  const l = pool.statsListen;
  // A wildcard bind is reached on loopback (the admin port checks a loopback bind's Host header too).
  const host = l.host === '0.0.0.0' || l.host === '' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
  const headers: Record<string, string> = {};
  if (pool.adminToken !== null) headers.authorization = `Bearer ${pool.adminToken}`;
  const secure = pool.adminTls !== null;
  return new Promise((resolve, reject) => {
    // The node's own certificate may be self-signed: this talks to the node the config names, nothing else.
    const req = (secure ? https : http).request({ host, port: l.port, method, path, headers, timeout: 5000, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 1 << 20) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** This node's own `node_state` in /cluster_describe, or '' when it cannot tell. */
function ownState(body: string): string {
  try {
    const d = JSON.parse(body) as { dcs?: { racks?: { servers?: { local?: boolean; node_state?: string }[] }[] }[] };
    for (const dc of d.dcs ?? []) for (const r of dc.racks ?? []) for (const s of r.servers ?? []) if (s.local === true) return s.node_state ?? '';
  } catch {
    // Not JSON: not a dynoproxy admin port.
  }
  return '';
}

/** Runs the decommission; resolves with the exit code (0: the node left). */
export async function decommission(pool: PoolConfig, timeoutS: number, out: (line: string) => void): Promise<number> {
  const where = `${pool.statsListen.host}:${pool.statsListen.port}`;
  if (pool.dynListen === null) {
    out(`dynoproxy: pool ${pool.name} is not a cluster node: nothing to decommission`);
    return 2;
  }
  let asked: Answer;
  try {
    asked = await call(pool, 'POST', '/state/leaving');
  } catch (err) {
    out(`dynoproxy: the node's admin port ${where} did not answer (${(err as Error).message}): is it running with this config?`);
    return 1;
  }
  const message = asked.body.trim();
  if (asked.status === 409 && /already leaving/.test(message)) out(`dynoproxy: ${message}; following it`);
  else if (asked.status !== 200) {
    out(`dynoproxy: the node refused to leave (${asked.status}): ${message}`);
    return 1;
  } else out(`dynoproxy: ${message}`);
  const end = Date.now() + timeoutS * 1000;
  let last = '';
  while (Date.now() < end) {
    await sleep(1000);
    try {
      const state = ownState((await call(pool, 'GET', '/cluster_describe')).body);
      const info = JSON.parse((await call(pool, 'GET', '/info')).body) as { warm_up?: { phase: string; keys_copied: number; keys_expected: number; eta_seconds: number; last_error: string } };
      const w = info.warm_up;
      const line = `state ${state || '?'}` + (w !== undefined ? `, hand-over ${w.phase}: ${w.keys_copied} of ~${w.keys_expected} keys, ETA ${w.eta_seconds} s${w.last_error ? ` (last error: ${w.last_error})` : ''}` : '');
      if (line !== last) out(`dynoproxy: ${line}`);
      last = line;
      if (state === 'left') {
        out(`dynoproxy: the node left the ring; stop it once handoff_grace (${pool.handoffGrace} ms) is past`);
        return 0;
      }
    } catch (err) {
      out(`dynoproxy: admin port ${where}: ${(err as Error).message}; asking again`);
    }
  }
  out(`dynoproxy: the node had not left after ${timeoutS} s (it goes on; follow it on ${where}/info)`);
  return 1;
}
