// Public face of the memcached protocol part: request parser, reply scanner and the client-facing reply table.
// Re-exports only: nothing here may do I/O or hold state.
export { MemcacheRequestParser, PARSE_INCOMPLETE, PARSE_ERROR } from './request-parser.ts';
export { MemcacheRequest, DEFAULT_MEMCACHE_LIMITS, type MemcacheLimits } from './request-fields.ts';
export * from './command-ids.ts';
export { decodeBase64Key } from './base64-key.ts';
export * from './reply-scanner.ts';
export * from './errors.ts';
export { noreplyTokenStart, quietFlagStart, casUniqueStart, NOREPLY_CUT, QUIET_CUT } from './request-cuts.ts';
export * from './meta-copy.ts';
export { MemcachePartScanner } from './part-scanner.ts';
