// loadConfig: reads a configuration file from disk and hands its text to parseConfig.
// Must never fall back to defaults when the file is missing: an absent config is an error.

import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.ts';
import { parseConfig } from './parse-config.ts';
import type { LoadedConfig } from './pool-config.ts';

export function loadConfig(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(path, 0, '', `${path}: cannot read the configuration file (${reason})`);
  }
  return parseConfig(text, path);
}
