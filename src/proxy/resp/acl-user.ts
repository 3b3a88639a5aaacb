// AclUser: one `users:` entry compiled for the request path (resp-acl.ts builds it): what a connection that authenticated as it may do.
// Never holds the password itself, only its SHA-256 digest; imports nothing (pool settings and sessions both name it).
export interface AclUser {
  readonly name: string;
  readonly digest: Buffer;
  /** By command id: 1 = the user may run it. */
  readonly allowed: Uint8Array;
  /** Key glob patterns; null = every key. */
  readonly patterns: readonly Buffer[] | null;
}
