// Checks that the committed docs/commands.md is what the command table renders today, and that it covers every command.
// Reads the committed file only; regenerate it with: node_modules/.bin/node scripts/gen-commands-doc.ts
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_COMMANDS, renderCommandsDoc } from '../../../src/commands/index.ts';

const docPath = join(import.meta.dirname, '..', '..', '..', 'docs', 'commands.md');

t.test('docs/commands.md is up to date with the table', async (t) => {
  const committed = readFileSync(docPath, 'utf8');
  const rendered = renderCommandsDoc();
  t.ok(committed === rendered, 'docs/commands.md differs from the table: run node_modules/.bin/node scripts/gen-commands-doc.ts');
});

t.test('the doc has a row for every command and shows every refusal reason', async (t) => {
  const doc = renderCommandsDoc();
  for (const spec of ALL_COMMANDS) {
    if (spec.subcommands !== undefined && spec.arity !== -1) continue;
    const shown = spec.name.toUpperCase().replace('|', ' ');
    t.ok(doc.includes(`| ${shown} |`) || doc.includes(`| ${shown} (`), shown);
    if (spec.refusal !== undefined) {
      const reason = spec.refusal.replace(/^.*? is not supported through dynoproxy: /, '');
      t.ok(doc.includes(reason.replace(/\|/g, '\\|')), `${shown}: reason shown`);
    }
  }
});
