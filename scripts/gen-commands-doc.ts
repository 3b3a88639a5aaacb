// Regenerates docs/commands.md from the command table in src/commands/ (run: node_modules/.bin/node scripts/gen-commands-doc.ts).
// Writes that one file only; the text itself comes from renderCommandsDoc(), which a unit test compares with the committed file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCommandsDoc } from '../src/commands/index.ts';

const target = join(import.meta.dirname, '..', 'docs', 'commands.md');
writeFileSync(target, renderCommandsDoc());
console.log(`wrote ${target}`);
