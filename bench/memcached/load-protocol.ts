// What the memcached load client's threads are told and report, and the exact bytes they send and expect.
// Never holds state: pure builders and types shared by the main thread and the workers.

export type LoadOp = 'get' | 'set';

export interface WorkerSpec {
  host: string;
  port: number;
  connections: number;
  pipeline: number;
  op: LoadOp;
  keys: number;
  valueSize: number;
  /** SharedArrayBuffer holding one Int32: requests still to claim, shared by every worker of the run. */
  quota: SharedArrayBuffer;
  /** Date.now() after which no new batch is sent. */
  deadlineAt: number;
}

export interface WorkerReport {
  type: 'report';
  completed: number;
  elapsedMs: number;
  errors: number;
  firstError: string;
  /** A uniform sample of batch round-trip times in µs (a batch is `pipeline` requests). */
  latencyUs: Float64Array;
  batches: number;
}

/** Keys have a fixed width so every request, and every reply, of a run has the same length. */
export function keyName(i: number): string {
  return `key:${String(i).padStart(8, '0')}`;
}

export function valueOf(size: number): Buffer {
  return Buffer.alloc(size, 0x78);
}

/** One request per key, back to back: a batch of n consecutive keys is one slice. */
export function requestBytes(op: LoadOp, keys: number, valueSize: number): Buffer {
  const value = valueOf(valueSize).toString('latin1');
  const one = (i: number): string => (op === 'get' ? `get ${keyName(i)}\r\n` : `set ${keyName(i)} 0 0 ${valueSize}\r\n${value}\r\n`);
  return Buffer.from(Array.from({ length: keys }, (_, i) => one(i)).join(''), 'latin1');
}

/** The reply every request of a run must get: STORED, or a hit with the value the fill wrote. */
export function expectedReply(op: LoadOp, valueSize: number): Buffer {
  if (op === 'set') return Buffer.from('STORED\r\n');
  return Buffer.from(`VALUE ${keyName(0)} 0 ${valueSize}\r\n${valueOf(valueSize).toString('latin1')}\r\nEND\r\n`, 'latin1');
}
