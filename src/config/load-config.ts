// loadConfig: reads a configuration file from disk and hands its text to parseConfig; a cluster pool's tokens moved by the admin API
// (POST /ring/move, kept in <hints_dir>/<pool>.tokens.json) replace the file's.
// Must never fall back to defaults when the file is missing: an absent config is an error.

import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.ts';
import { parseConfig } from './parse-config.ts';
import { readMovedTokens, movedTokensPath } from './moved-tokens.ts';
import type { LoadedConfig } from './pool-config.ts';

export function loadConfig(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(path, 0, '', `${path}: cannot read the configuration file (${reason})`);
  }
  const config = parseConfig(text, path);
  for (const pool of config.pools) {
    if (pool.hintsDir === null || pool.dynListen === null) continue;
    let moved;
    try {
      moved = readMovedTokens(pool.hintsDir, pool.name);
    } catch (err) {
      throw new ConfigError(path, 0, `${pool.name}.tokens`, `${path}: ${pool.name}.tokens: ${(err as Error).message}`);
    }
    if (moved === null) continue;
    if (moved.tokens.join(',') !== pool.tokens.join(',')) {
      config.warnings.push(
        `${path}: ${pool.name}.tokens: ${movedTokensPath(pool.hintsDir, pool.name)} (a ring move) overrides the configured tokens ${pool.tokens.join(',')} with ${moved.tokens.join(',')}; write them into the config and delete the file to make it plain`,
      );
    }
    pool.tokens = moved.tokens;
    // The move's join did not finish: the node joins again (purge, copy, then serve) instead of serving a range it may not hold.
    if (moved.joining) pool.join = true;
  }
  return config;
}
