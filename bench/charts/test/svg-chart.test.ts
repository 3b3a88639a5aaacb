// Tests of the SVG chart writer: well-formed output, escaped labels, bar heights and log ticks that follow the data.
// Never writes a file; it checks the returned text.
import t from 'tap';
import { barChart, escapeXml, formatTick, lineChart, niceStep } from '../svg-chart.ts';

/** Open and close tags pair up (no XML parser in the project; self-closing tags are skipped). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '') stack.push(m[2]!);
    else if (stack.pop() !== m[2]) return false;
  }
  return stack.length === 0;
}

t.test('bar chart', async (t) => {
  const svg = barChart({ title: 'a <b> & "c"', yLabel: 'ops/s', categories: ['x', 'y'], series: [{ name: 's1', values: [100, 200] }, { name: 's2', values: [50, null] }] });
  t.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.ok(balanced(svg), 'tags balance');
  t.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/, 'title escaped');
  const heights = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#[0-9a-f]+"><title>/g)].map((m) => Number(m[1]));
  t.equal(heights.length, 3, 'a null value draws no bar');
  // Drawn per category: x (s1 100, s2 50), then y (s1 200).
  t.ok(Math.abs(heights[1]! / heights[0]! - 0.5) < 0.01, 'bar height proportional to value');
  t.ok(Math.abs(heights[2]! / heights[0]! - 2) < 0.01);
});

t.test('line chart on a log scale', async (t) => {
  const svg = lineChart({ title: 'p', yLabel: 'µs', logY: true, categories: ['p50', 'p99', 'max'], series: [{ name: 'direct', values: [80, 900, 12000] }] });
  t.ok(balanced(svg));
  t.match(svg, /<polyline points="[^"]+"/);
  for (const tick of ['10', '100', '1k', '10k', '100k']) t.match(svg, new RegExp(`>${tick}</text>`), `tick ${tick}`);
  t.match(svg, /\(log scale\)/);
});

t.test('helpers', async (t) => {
  t.equal(escapeXml('<&>"'), '&lt;&amp;&gt;&quot;');
  t.equal(niceStep(1000, 5), 200);
  t.equal(niceStep(7, 5), 2);
  t.equal(formatTick(1_500_000), '1.5M');
  t.equal(formatTick(2500), '2.5k');
  t.equal(formatTick(0.25), '0.25');
});
