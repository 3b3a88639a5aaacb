// A ring move's tokens file (<hints_dir>/<pool>.tokens.json): loadConfig puts its tokens over the config's (and joins again while the
// move's join is unfinished), refuses a corrupt file by name, and leaves pools without hints_dir or dyn_listen alone.
import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, writeMovedTokens, readMovedTokens, movedTokensPath, ConfigError } from '../../../src/config/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'moved-tokens-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hints = join(dir, 'hints');
const file = join(dir, 'node.yml');
const yaml = (extra: string): string =>
  ['dyn_o_mite:', '  listen: 127.0.0.1:9000', '  dyn_listen: 127.0.0.1:9001', '  tokens: 101134286', '  servers:', '  - 127.0.0.1:6379:1', extra, ''].join('\n');

t.test('no file: the config\'s tokens', async (t) => {
  writeFileSync(file, yaml(`  hints_dir: ${hints}`));
  const c = loadConfig(file);
  t.same(c.pools[0]!.tokens, ['101134286']);
  t.equal(c.pools[0]!.join, false);
  t.equal(readMovedTokens(hints, 'dyn_o_mite'), null);
});

t.test('a move that finished: its tokens win, with a warning; one whose join did not finish joins again', async (t) => {
  writeMovedTokens(hints, 'dyn_o_mite', { tokens: ['3322359758'], joining: false });
  t.same(readMovedTokens(hints, 'dyn_o_mite'), { tokens: ['3322359758'], joining: false });
  let c = loadConfig(file);
  t.same(c.pools[0]!.tokens, ['3322359758']);
  t.equal(c.pools[0]!.join, false);
  t.match(c.warnings.join('\n'), /tokens\.json \(a ring move\) overrides the configured tokens 101134286 with 3322359758/);
  writeMovedTokens(hints, 'dyn_o_mite', { tokens: ['1', '2'], joining: true });
  c = loadConfig(file);
  t.same(c.pools[0]!.tokens, ['1', '2']);
  t.equal(c.pools[0]!.join, true);
});

t.test('a corrupt file stops the start with its name (the node would serve another node\'s range)', async (t) => {
  const path = movedTokensPath(hints, 'dyn_o_mite');
  for (const body of ['{', '{"tokens":[],"joining":false}', '{"tokens":["4294967296"],"joining":false}', '{"tokens":["1"]}', '{"tokens":[1],"joining":false}', 'null']) {
    writeFileSync(path, body);
    const err = t.throws(() => loadConfig(file), body) as unknown as ConfigError;
    t.ok(err instanceof ConfigError, body);
    t.match(err.message, /dyn_o_mite\.tokens: .*tokens\.json: .*delete it to use the config's tokens/, body);
  }
  rmSync(path);
  t.same(loadConfig(file).pools[0]!.tokens, ['101134286'], 'deleted: the config\'s again');
});

t.test('without hints_dir the file is not looked for', async (t) => {
  writeMovedTokens(hints, 'dyn_o_mite', { tokens: ['5'], joining: false });
  writeFileSync(file, yaml(''));
  t.same(loadConfig(file).pools[0]!.tokens, ['101134286']);
  t.match(readFileSync(movedTokensPath(hints, 'dyn_o_mite'), 'utf8'), /"tokens":\["5"\]/, 'written whole (no temporary left behind)');
});
