// KeyHasher: Dynomite's key hash — hash-tag extraction, then the configured hash function — over a key's bytes in place.
// Pure: never converts a key to a string and never allocates per key.
import { hashFunction, type HashFn, type HashName } from './hash-function.ts';
import { hashTagRange } from './hash-tag.ts';

export class KeyHasher {
  private readonly hash: HashFn;
  private readonly tagLeft: number;
  private readonly tagRight: number;
  private readonly range = new Int32Array(2);

  constructor(hash: HashName, hashTag: string | null) {
    this.hash = hashFunction(hash);
    this.tagLeft = hashTag !== null ? hashTag.charCodeAt(0) : -1;
    this.tagRight = hashTag !== null ? hashTag.charCodeAt(1) : -1;
  }

  keyHash(buf: Uint8Array, start: number, end: number): number {
    if (this.tagLeft >= 0) {
      const r = this.range;
      hashTagRange(buf, start, end, this.tagLeft, this.tagRight, r);
      return this.hash(buf, r[0], r[1]);
    }
    return this.hash(buf, start, end);
  }
}
