// Tests of the BENCHMARKS.md block rewriter: hand-written text must survive every regeneration.
// Never touches the real BENCHMARKS.md.
import t from 'tap';
import { markdownTable, replaceGeneratedSection } from '../lib/benchmarks-doc.ts';

t.test('no document yet: a skeleton with the block and a Notes section', async (t) => {
  const doc = replaceGeneratedSection(undefined, 'suite-a', '## A\n\nfigures v1');
  t.match(doc, /^# Benchmarks/);
  t.match(doc, /<!-- generated:suite-a:begin[^\n]*-->\n## A\n\nfigures v1\n<!-- generated:suite-a:end -->/);
  t.ok(doc.indexOf('## Notes') > doc.indexOf('generated:suite-a:end'), 'Notes after the block');
});

t.test('regenerating keeps every hand-written line outside the block', async (t) => {
  let doc = replaceGeneratedSection(undefined, 'suite-a', 'figures v1');
  doc = doc.replace('## Notes\n', '## Notes\n\n- 2026-11-25: batched backend writes, +20% GET at P1\n');
  doc = `${doc}\nTrailing hand-written paragraph.\n`;
  const before = doc;
  const next = replaceGeneratedSection(doc, 'suite-a', 'figures v2');
  t.notMatch(next, /figures v1/);
  t.match(next, /figures v2/);
  t.equal(next.replace('figures v2', 'figures v1'), before, 'only the block body changed');
  t.equal(replaceGeneratedSection(next, 'suite-a', 'figures v2'), next, 'idempotent');
});

t.test('a second suite gets its own block before Notes, and the first is untouched', async (t) => {
  const doc = replaceGeneratedSection(undefined, 'suite-a', 'A figures');
  const next = replaceGeneratedSection(doc, 'suite-b', 'B figures');
  t.ok(next.indexOf('B figures') > next.indexOf('A figures'));
  t.ok(next.indexOf('B figures') < next.indexOf('## Notes'));
  t.equal(replaceGeneratedSection(next, 'suite-a', 'A2').includes('B figures'), true);
});

t.test('hand-written doc without Notes or markers gets the block appended', async (t) => {
  const next = replaceGeneratedSection('# Mine\n\nintro\n', 'suite-a', 'A figures');
  t.match(next, /^# Mine\n\nintro\n\n<!-- generated:suite-a:begin/);
});

t.test('an unpaired marker is refused rather than guessed', async (t) => {
  t.throws(() => replaceGeneratedSection('x\n<!-- generated:suite-a:end -->\n', 'suite-a', 'y'), /unpaired/);
});

t.test('markdown table aligns numeric columns right', async (t) => {
  t.equal(markdownTable(['a', 'b'], [['x', '1']], ['l', 'r']), '| a | b |\n| --- | ---: |\n| x | 1 |');
});
