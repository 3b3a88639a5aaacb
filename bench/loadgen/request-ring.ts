// Prebuilt request bytes for the load generator: every request of the key ring laid out once, back to back.
// Never builds a request while load runs: a batch of consecutive requests is one subarray of the ring.
import type { Workload } from './load-spec.ts';

export function keyName(prefix: string, index: number): string {
  return `${prefix}:${String(index).padStart(8, '0')}`;
}

/** A recognisable value that is not one repeated byte (some stores compress or dedupe those). */
export function valueBytes(size: number): Buffer {
  const v = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) v[i] = 97 + ((i * 7) % 26);
  return v;
}

function respRequest(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** One request of the workload for key index i (MGET takes keys i, i+1, ...). */
export function buildRequest(w: Workload, i: number): Buffer {
  const key = (k: number): string => keyName(w.keyPrefix, k % w.keyCount);
  if (w.protocol === 'resp') {
    if (w.command === 'get') return respRequest(['GET', key(i)]);
    if (w.command === 'set') return respRequest(['SET', key(i), valueBytes(w.valueBytes)]);
    return respRequest(['MGET', ...Array.from({ length: w.mgetKeys }, (_, j) => key(i + j))]);
  }
  if (w.command === 'get') return Buffer.from(`get ${key(i)}\r\n`);
  if (w.command === 'set') {
    return Buffer.concat([Buffer.from(`set ${key(i)} 0 0 ${w.valueBytes}\r\n`), valueBytes(w.valueBytes), Buffer.from('\r\n')]);
  }
  return Buffer.from(`get ${Array.from({ length: w.mgetKeys }, (_, j) => key(i + j)).join(' ')}\r\n`);
}

/**
 * `slots` requests (key indexes 0..slots-1) followed by the first `window - 1` again, so any run of up to
 * `window` consecutive requests, starting anywhere, is contiguous.
 */
export class RequestRing {
  readonly bytes: Buffer;
  /** offsets[i] is where request i starts; offsets[slots + window - 1] is the end. */
  readonly offsets: Int32Array;
  readonly slots: number;
  readonly window: number;

  constructor(w: Workload, window: number, slots = w.keyCount) {
    if (window < 1) throw new Error('window must be >= 1');
    this.slots = slots;
    this.window = window;
    const total = slots + window - 1;
    const parts: Buffer[] = [];
    this.offsets = new Int32Array(total + 1);
    let off = 0;
    for (let i = 0; i < total; i++) {
      const r = buildRequest(w, i % slots);
      this.offsets[i] = off;
      parts.push(r);
      off += r.length;
    }
    this.offsets[total] = off;
    this.bytes = Buffer.concat(parts, off);
  }

  /** Views of whole windows, made once: a closed-loop batch then costs no allocation. */
  private readonly windows: (Buffer | undefined)[] = [];

  /** Bytes of requests first .. first+count-1 (count <= window); first is taken modulo slots. */
  run(first: number, count: number): Buffer {
    const i = first % this.slots;
    if (count === this.window) {
      return (this.windows[i] ??= this.bytes.subarray(this.offsets[i]!, this.offsets[i + count]!));
    }
    return this.bytes.subarray(this.offsets[i]!, this.offsets[i + count]!);
  }
}
