// Public face of protocol/dnode: Dynomite's peer wire codec (dnode header parser and writer), gossip node records, peer authentication frames.
// Pure: no I/O and no state beyond one authentication exchange; sockets belong to io/ and proxy/.
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
