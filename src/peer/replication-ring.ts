// ReplicationRing: a bounded single-producer / single-consumer queue of write requests in a SharedArrayBuffer, from one data worker to the cluster worker.
// Never blocks and never grows: when a record does not fit, the producer counts a drop and moves on (client traffic is never held back by a slow remote DC).

/** Header slots (Int32). */
const H_HEAD = 0; // consumer's read offset (bytes, monotonically increasing mod 2^31 handled by masking)
const H_TAIL = 1; // producer's write offset
const H_DROPPED = 2; // records refused because the ring was full
const H_PUSHED = 3; // records accepted
const H_SIGNAL = 4; // bumped by the producer when it pushes into an empty ring (the consumer waits on it)
const HEADER_INTS = 8;
const HEADER_BYTES = HEADER_INTS * 4;
/** Record header: u32 payload length, u32 target node. A length of 0xffffffff marks "wrap to the start". */
const REC_HEADER = 8;
const WRAP = 0xffffffff;

export function replicationRingBytes(capacity: number): number {
  return HEADER_BYTES + capacity;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export class ReplicationRing {
  readonly sab: SharedArrayBuffer;
  private readonly h: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  readonly capacity: number;

  /** `capacity` must be a power of two (bytes of record space). */
  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.h = new Int32Array(sab, 0, HEADER_INTS);
    this.capacity = sab.byteLength - HEADER_BYTES;
    if ((this.capacity & (this.capacity - 1)) !== 0 || this.capacity < 1024) throw new Error('ReplicationRing: capacity must be a power of two >= 1024');
    this.data = new Uint8Array(sab, HEADER_BYTES, this.capacity);
    this.view = new DataView(sab, HEADER_BYTES, this.capacity);
  }

  static create(capacity: number): ReplicationRing {
    return new ReplicationRing(new SharedArrayBuffer(replicationRingBytes(capacity)));
  }

  get dropped(): number {
    return Atomics.load(this.h, H_DROPPED);
  }

  get pushed(): number {
    return Atomics.load(this.h, H_PUSHED);
  }

  /** The largest payload a record may carry: bigger writes must go another way (they would never fit). */
  get maxPayload(): number {
    return this.capacity / 2 - REC_HEADER;
  }

  /** Bytes waiting for the consumer. */
  get depth(): number {
    return (Atomics.load(this.h, H_TAIL) - Atomics.load(this.h, H_HEAD)) | 0;
  }

  /** Producer: queue bytes for `node`; false (and counted) when full. */
  push(node: number, src: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    const need = REC_HEADER + align4(len);
    const cap = this.capacity;
    const tail = Atomics.load(this.h, H_TAIL);
    const head = Atomics.load(this.h, H_HEAD);
    const used = (tail - head) | 0;
    let pos = tail & (cap - 1);
    const toEnd = cap - pos;
    // A record never wraps: if it does not fit before the end, a WRAP marker skips the rest.
    const skip = toEnd < need ? toEnd : 0;
    if (need > cap / 2 || used + skip + need > cap) {
      Atomics.add(this.h, H_DROPPED, 1);
      return false;
    }
    if (skip > 0) {
      if (toEnd >= 4) this.view.setUint32(pos, WRAP, true);
      pos = 0;
    }
    this.view.setUint32(pos, len, true);
    this.view.setUint32(pos + 4, node, true);
    this.data.set(src.subarray(start, end), pos + REC_HEADER);
    Atomics.store(this.h, H_TAIL, (tail + skip + need) | 0);
    Atomics.add(this.h, H_PUSHED, 1);
    if (used === 0) {
      Atomics.add(this.h, H_SIGNAL, 1);
      Atomics.notify(this.h, H_SIGNAL);
    }
    return true;
  }

  /** Consumer: hand every queued record to `each` (bytes valid during the call only); returns how many. */
  drain(each: (node: number, buf: Uint8Array, start: number, end: number) => void, max = 1 << 30): number {
    const cap = this.capacity;
    let head = Atomics.load(this.h, H_HEAD);
    const tail = Atomics.load(this.h, H_TAIL);
    let n = 0;
    while (head !== tail && n < max) {
      let pos = head & (cap - 1);
      const toEnd = cap - pos;
      if (toEnd < REC_HEADER || (toEnd >= 4 && this.view.getUint32(pos, true) === WRAP)) {
        head = (head + toEnd) | 0;
        continue;
      }
      const len = this.view.getUint32(pos, true);
      const node = this.view.getUint32(pos + 4, true);
      pos += REC_HEADER;
      each(node, this.data, pos, pos + len);
      head = (head + REC_HEADER + align4(len)) | 0;
      n++;
    }
    Atomics.store(this.h, H_HEAD, head);
    return n;
  }

  /** The consumer's wait word (Atomics.waitAsync on it wakes when a push finds the ring empty). */
  get signal(): { array: Int32Array; index: number } {
    return { array: this.h, index: H_SIGNAL };
  }
}
