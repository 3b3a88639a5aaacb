// Latency histograms: one hdr-histogram-js per pool per worker, merged by the supervisor from their compressed encodings.
// Never uses the packed or WebAssembly variants: recording must stay a few tens of nanoseconds on the request path.
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram };

/** 1 µs to 60 s, 2 significant digits. */
export function newLatencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2, useWebAssembly: false });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Merge encoded histograms (one per worker) into a fresh one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const total = newLatencyHistogram();
  for (const e of encoded) {
    if (e === '') continue;
    total.add(hdr.decodeFromCompressedBase64(e, 'packed', false));
  }
  return total;
}

/** Sub-buckets per power of two: values are kept within 1/SUB (about 3%) of what was recorded. */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;

/**
 * The request path's latency recorder: a plain counter per log-linear bucket (a few ns, no allocation), folded
 * into an HdrHistogram only when the histogram is read (admin API, /metrics).
 */
export class LatencyRecorder {
  // Values below 2*SUB have a slot each; above, SUB slots per power of two.
  private readonly counts = new Float64Array(2 * SUB + 32 * SUB);
  private dirty = false;
  readonly histogram: Histogram = newLatencyHistogram();

  /** Record one latency in µs. */
  record(us: number): void {
    let v = us < 1 ? 1 : us > 60_000_000 ? 60_000_000 : us | 0;
    if (v < 2 * SUB) {
      this.counts[v]++;
    } else {
      let exp = 0;
      while (v >= 2 * SUB) {
        v >>>= 1;
        exp++;
      }
      // Now v is in [SUB, 2*SUB): the top SUB_BITS+1 bits of the value.
      this.counts[2 * SUB + (exp - 1) * SUB + (v - SUB)]++;
    }
    this.dirty = true;
  }

  /** Fold the counters into `histogram` (bucket midpoints) and clear them. */
  flush(): Histogram {
    if (!this.dirty) return this.histogram;
    const c = this.counts;
    for (let i = 1; i < c.length; i++) {
      const n = c[i];
      if (n === 0) continue;
      let value = i;
      if (i >= 2 * SUB) {
        const exp = ((i - 2 * SUB) / SUB | 0) + 1;
        const low = (SUB + ((i - 2 * SUB) % SUB)) * 2 ** exp;
        value = Math.round(low + (2 ** exp - 1) / 2);
      }
      this.histogram.recordValueWithCount(value, n);
      c[i] = 0;
    }
    this.dirty = false;
    return this.histogram;
  }
}
