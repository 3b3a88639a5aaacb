// Minimal SVG charts for BENCHMARKS.md: grouped bars and lines, linear or log scale, with axes and a legend.
// Pure text out: never reads or writes files, and escapes every label it draws.

export interface Series {
  name: string;
  /** One value per category (bars) or per x (lines); NaN or null leaves a gap. */
  values: readonly (number | null)[];
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  /** Category names (bars) or x tick labels (lines). */
  categories: readonly string[];
  series: readonly Series[];
  xLabel?: string;
  logY?: boolean;
  width?: number;
  height?: number;
}

const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#9c755f'];
const font = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 x 10^n steps, so tick labels read well. */
export function niceStep(range: number, ticks: number): number {
  const raw = range / Math.max(1, ticks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 1 || a === 0) return `${+v.toFixed(1)}`;
  return `${+v.toPrecision(2)}`;
}

interface Scale {
  toY(v: number): number;
  ticks: number[];
}

function yScale(values: number[], top: number, bottom: number, log: boolean): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...finite, 1e9)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...finite, lo * 10)));
    const span = Math.log10(hi) - Math.log10(lo);
    const ticks: number[] = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
    return { toY: (v) => bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * (bottom - top), ticks };
  }
  const max = Math.max(...finite, 0);
  const step = niceStep(max || 1, 5);
  const hi = Math.ceil((max || 1) / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
  return { toY: (v) => bottom - (v / hi) * (bottom - top), ticks };
}

function frame(o: ChartOptions, width: number, height: number, left: number, right: number, top: number, bottom: number, scale: Scale): string[] {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${font} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(o.title)}</text>`,
  ];
  for (const t of scale.ticks) {
    const y = scale.toY(t).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${escapeXml(formatTick(t))}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#888"/>`);
  out.push(`<line x1="${left}" x2="${width - right}" y1="${bottom}" y2="${bottom}" stroke="#888"/>`);
  out.push(`<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(o.yLabel + (o.logY ? ' (log scale)' : ''))}</text>`);
  if (o.xLabel !== undefined) out.push(`<text x="${(left + width - right) / 2}" y="${height - 8}" text-anchor="middle" fill="#333">${escapeXml(o.xLabel)}</text>`);
  // Legend along the top, under the title.
  let lx = left;
  o.series.forEach((s, i) => {
    out.push(`<rect x="${lx}" y="32" width="12" height="12" fill="${palette[i % palette.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="42" fill="#222">${escapeXml(s.name)}</text>`);
    lx += 28 + s.name.length * 7;
  });
  return out;
}

function allValues(o: ChartOptions): number[] {
  return o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
}

/** Grouped bar chart: one group per category, one bar per series. */
export function barChart(o: ChartOptions): string {
  const width = o.width ?? Math.max(520, 90 + o.categories.length * (24 + o.series.length * 16));
  const height = o.height ?? 380;
  const [left, right, top, bottom] = [70, 16, 56, height - 90];
  const scale = yScale(allValues(o), top, bottom, o.logY ?? false);
  const out = frame(o, width, height, left, right, top, bottom, scale);
  const groupW = (width - left - right) / Math.max(1, o.categories.length);
  const barW = Math.max(3, Math.min(22, (groupW - 12) / Math.max(1, o.series.length)));
  o.categories.forEach((cat, ci) => {
    const gx = left + ci * groupW + (groupW - barW * o.series.length) / 2;
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const y = scale.toY(v);
      out.push(`<rect x="${(gx + si * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0, bottom - y).toFixed(1)}" fill="${palette[si % palette.length]}"><title>${escapeXml(`${s.name} ${cat}: ${formatTick(v)}`)}</title></rect>`);
    });
    const cx = left + ci * groupW + groupW / 2;
    out.push(`<text transform="translate(${cx.toFixed(1)} ${bottom + 12}) rotate(30)" text-anchor="start" fill="#333" font-size="11">${escapeXml(cat)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Line chart: x positions are the categories, evenly spaced; one line with dots per series. */
export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 560;
  const height = o.height ?? 360;
  const [left, right, top, bottom] = [70, 20, 56, height - 50];
  const scale = yScale(allValues(o), top, bottom, o.logY ?? false);
  const out = frame(o, width, height, left, right, top, bottom, scale);
  const n = o.categories.length;
  const x = (i: number): number => left + 20 + (n <= 1 ? 0 : (i * (width - left - right - 40)) / (n - 1));
  o.categories.forEach((cat, i) => out.push(`<text x="${x(i).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#333">${escapeXml(cat)}</text>`));
  o.series.forEach((s, si) => {
    const color = palette[si % palette.length];
    const points = s.values.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(i).toFixed(1)},${scale.toY(v).toFixed(1)}`));
    const path = points.filter((p): p is string => p !== null);
    if (path.length > 1) out.push(`<polyline points="${path.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    points.forEach((p, i) => {
      if (p === null) return;
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name} ${o.categories[i]}: ${formatTick(s.values[i] as number)}`)}</title></circle>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
