// Public face of peer: Dynomite's dnode wire codec (header parser and writer) and the gossip payload codec.
// Re-exports only: nothing here may do I/O (sockets belong to proxy/ and cluster/) or hold state beyond one auth exchange.
export {
  CRYPTO_HANDSHAKE, DMSG_DEBUG, DMSG_PARSE_ERROR, DMSG_REQ, DMSG_REQ_FORWARD, DMSG_RES, DMSG_UNKNOWN,
  DNODE_DATA_GOSSIP, DNODE_DATA_PLAIN, DNODE_FLAG_ENCRYPTED, DNODE_MAGIC, DNODE_VERSION, dnodeTypeName,
  GOSSIP_ACK, GOSSIP_DIGEST_ACK, GOSSIP_DIGEST_ACK2, GOSSIP_DIGEST_SYN, GOSSIP_SHUTDOWN, GOSSIP_SYN,
  GOSSIP_SYN_REPLY, PEER_AUTH_CHALLENGE, PEER_AUTH_OK, PEER_AUTH_PROOF, PEER_AUTH_REFUSED,
} from './dnode-types.ts';
export { PeerAuthClient, PeerAuthServer, PEER_AUTH_MAX_PAYLOAD, PEER_AUTH_TIMEOUT_MS, PEER_AUTH_REFUSAL, encodeAuthFrame, isPeerAuthType } from './peer-auth.ts';
export {
  DEFAULT_DNODE_LIMITS, DNODE_ERROR, DNODE_INCOMPLETE, DnodeParser, MAX_DNODE_MSG_ID, type DnodeLimits,
} from './dnode-parser.ts';
export { decimalLength, DnodeHeaderTemplate, dnodeHeaderLength, writeDnodeHeader } from './dnode-header-writer.ts';
export {
  encodeGossipNodes, parseGossipNodes, type GossipNodeRecord, type GossipParseResult,
} from './gossip-payload.ts';
export { ReplicationRing, replicationRingBytes } from './replication-ring.ts';
export { PeerStates, PEER_UNKNOWN, PEER_UP, PEER_DOWN, PEER_DATASTORE_DOWN, OVERRIDE_NONE, OVERRIDE_UP, OVERRIDE_DOWN } from './peer-states.ts';
