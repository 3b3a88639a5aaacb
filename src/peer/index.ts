// Public face of peer: the shared memory between the data workers and the cluster worker — replication rings (remote-DC writes)
// and the peer-state table (liveness, operator overrides). Never does I/O. The dnode wire codec lives in protocol/dnode.
export { ReplicationRing, replicationRingBytes } from './replication-ring.ts';
export { PeerStates, PEER_UNKNOWN, PEER_UP, PEER_DOWN, PEER_DATASTORE_DOWN, PEER_WARMING, OVERRIDE_NONE, OVERRIDE_UP, OVERRIDE_DOWN } from './peer-states.ts';
