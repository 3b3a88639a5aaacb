// Rewrites one generated block of BENCHMARKS.md, keeping every hand-written line outside it.
// Never touches text outside its own begin/end markers once they exist.

function beginMarker(id: string): string {
  return `<!-- generated:${id}:begin (rewritten by the bench scripts; edit outside this block) -->`;
}

function endMarker(id: string): string {
  return `<!-- generated:${id}:end -->`;
}

const skeletonHead = `# Benchmarks

How dynoproxy compares with Redis itself and with twemproxy on the machines this project runs on.
Blocks between \`generated:\` markers are rewritten by the bench scripts from the newest results
in \`bench/results/\` (the history); everything outside them, in particular **Notes**, is hand-written
and kept as is.
`;

const skeletonNotes = `## Notes

Hand-written. When a change moves a figure, write what changed, the commit, and what it bought.
`;

/**
 * Returns `doc` with the block `id` replaced by `body` (markdown, without markers). A doc without
 * that block gets it inserted before its "## Notes" heading, or appended; no doc gets a skeleton.
 */
export function replaceGeneratedSection(doc: string | undefined, id: string, body: string): string {
  const block = `${beginMarker(id)}\n${body.trim()}\n${endMarker(id)}`;
  if (doc === undefined || doc.trim() === '') {
    return `${skeletonHead}\n${block}\n\n${skeletonNotes}`;
  }
  const begin = doc.indexOf(`<!-- generated:${id}:begin`);
  const end = doc.indexOf(endMarker(id));
  if (begin >= 0 && end > begin) {
    return doc.slice(0, begin) + block + doc.slice(end + endMarker(id).length);
  }
  if (begin >= 0 || end >= 0) {
    throw new Error(`BENCHMARKS.md has an unpaired generated:${id} marker; fix it by hand first`);
  }
  const notes = /^## Notes\s*$/m.exec(doc);
  if (notes !== null) {
    return `${doc.slice(0, notes.index)}${block}\n\n${doc.slice(notes.index)}`;
  }
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** A markdown table; cells are already formatted strings. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}
