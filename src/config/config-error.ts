// ConfigError: a configuration mistake, located by file, line and key, worded for an operator.
// Must never echo a secret (passwords, tokens) into its message.

/** A configuration file that cannot be used; `line` is 1-based, 0 when the file itself is unreadable. */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  /** The YAML key at fault (`hash_tag`, `servers`...), or '' for file-level problems. */
  readonly key: string;

  constructor(file: string, line: number, key: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
  }
}

/**
 * Thrown by the value parsers, which know what is wrong but not where: the walker catches it
 * and turns it into a ConfigError carrying file, line, pool and key.
 */
export class ValueProblem extends Error {
  constructor(what: string) {
    super(what);
    this.name = 'ValueProblem';
  }
}

const SHOWN_VALUE_MAX = 80;

/** Quotes a value for an error message; long values are cut so a pasted blob cannot flood a log. */
export function showValue(text: string): string {
  const cut = text.length > SHOWN_VALUE_MAX ? `${text.slice(0, SHOWN_VALUE_MAX)}...` : text;
  return JSON.stringify(cut);
}

/** `<file>:<line>: <pool>.<key>: <what> (got <value>)`, the one shape every value error takes. */
export function valueError(
  file: string,
  line: number,
  pool: string,
  key: string,
  what: string,
  got: string | null,
): ConfigError {
  const suffix = got === null ? '' : ` (got ${showValue(got)})`;
  const where = pool === '' ? key : `${pool}.${key}`;
  return new ConfigError(file, line, key, `${file}:${line}: ${where}: ${what}${suffix}`);
}
