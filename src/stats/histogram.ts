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
