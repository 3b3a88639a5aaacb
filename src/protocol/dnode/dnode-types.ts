// Dynomite dnode message types (dmsg_type_t), header flag bits and the fixed header pieces, as plain constants.
// Pure data: no I/O, no state; the numbers are Dynomite's own and must never be renumbered.

export const DMSG_UNKNOWN = 0;
export const DMSG_DEBUG = 1;
export const DMSG_PARSE_ERROR = 2;
export const DMSG_REQ = 3;
export const DMSG_REQ_FORWARD = 4;
export const DMSG_RES = 5;
export const CRYPTO_HANDSHAKE = 6;
export const GOSSIP_SYN = 7;
export const GOSSIP_SYN_REPLY = 8;
export const GOSSIP_ACK = 9;
export const GOSSIP_DIGEST_SYN = 10;
export const GOSSIP_DIGEST_ACK = 11;
export const GOSSIP_DIGEST_ACK2 = 12;
export const GOSSIP_SHUTDOWN = 13;

// dynoproxy's own types (peer authentication, peer-auth.ts beside this file), far above Dynomite's so they never collide.
export const PEER_AUTH_CHALLENGE = 200;
export const PEER_AUTH_PROOF = 201;
export const PEER_AUTH_OK = 202;
export const PEER_AUTH_REFUSED = 203;

const TYPE_NAMES = [
  'DMSG_UNKNOWN', 'DMSG_DEBUG', 'DMSG_PARSE_ERROR', 'DMSG_REQ', 'DMSG_REQ_FORWARD', 'DMSG_RES', 'CRYPTO_HANDSHAKE',
  'GOSSIP_SYN', 'GOSSIP_SYN_REPLY', 'GOSSIP_ACK', 'GOSSIP_DIGEST_SYN', 'GOSSIP_DIGEST_ACK', 'GOSSIP_DIGEST_ACK2',
  'GOSSIP_SHUTDOWN',
] as const;

/** For logs and the admin API; an unknown number is shown as such rather than refused. */
export function dnodeTypeName(type: number): string {
  if (type >= PEER_AUTH_CHALLENGE && type <= PEER_AUTH_REFUSED) return ['PEER_AUTH_CHALLENGE', 'PEER_AUTH_PROOF', 'PEER_AUTH_OK', 'PEER_AUTH_REFUSED'][type - PEER_AUTH_CHALLENGE];
  return type >= 0 && type < TYPE_NAMES.length ? TYPE_NAMES[type] : `DMSG_TYPE_${type}`;
}

/** Bit 0 of the flags field: the payload is AES-encrypted and `data` holds the RSA-encrypted AES key. */
export const DNODE_FLAG_ENCRYPTED = 1;

/** The only header version Dynomite has (VERSION_10 = 1). */
export const DNODE_VERSION = 1;

/** "   $2014$ ": three spaces, `$2014$`, one space. */
export const DNODE_MAGIC: Uint8Array = Uint8Array.of(0x20, 0x20, 0x20, 0x24, 0x32, 0x30, 0x31, 0x34, 0x24, 0x20);

/** The one-byte `data` Dynomite sends with requests and responses when nothing is encrypted ("d"). */
export const DNODE_DATA_PLAIN: Uint8Array = Uint8Array.of(0x64);
/** The one-byte `data` Dynomite sends with gossip messages ("a"). */
export const DNODE_DATA_GOSSIP: Uint8Array = Uint8Array.of(0x61);
