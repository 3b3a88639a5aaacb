// Peer authentication: a challenge-response proving that both ends of a peer link know `peer_secret`, before any request.
// Never sends or logs the secret, never compares proofs in variable time, and holds no state beyond one exchange.
//
// Exchange (dnode frames of dynoproxy's own types, msg id 0; Dynomite has no equivalent, so a Dynomite peer
// is a compatibility-mode peer with no secret):
//   server -> client  PEER_AUTH_CHALLENGE  "dynoproxy-peer-auth 1 <snonce>"          as soon as the link is accepted
//   client -> server  PEER_AUTH_PROOF      "<cnonce> <HMAC(secret, 'client' snonce cnonce)>"
//   server -> client  PEER_AUTH_OK         "<HMAC(secret, 'server' snonce cnonce)>"  (or PEER_AUTH_REFUSED, then close)
// Nonces are 16 random bytes in hex; both proofs are HMAC-SHA256 in hex. The server's nonce makes a captured
// proof useless on another connection; the client's nonce makes the server's proof useless to a fake server.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { writeDnodeHeader, dnodeHeaderLength } from './dnode-header-writer.ts';
import { DNODE_VERSION, PEER_AUTH_CHALLENGE, PEER_AUTH_OK, PEER_AUTH_PROOF, PEER_AUTH_REFUSED } from './dnode-types.ts';

const CHALLENGE_PREFIX = 'dynoproxy-peer-auth 1 ';
const NONCE_HEX = 32;
const PROOF_HEX = 64;
/** An exchange not finished by then fails: the server refuses the peer, the client fails its link. */
export const PEER_AUTH_TIMEOUT_MS = 5000;
/** Longest payload an auth frame may have: the server reads no more than this from a stranger. */
export const PEER_AUTH_MAX_PAYLOAD = 256;
const DATA = Uint8Array.of(0x61);

export function newNonce(): string {
  return randomBytes(NONCE_HEX / 2).toString('hex');
}

function proof(secret: string, role: 'client' | 'server', snonce: string, cnonce: string): string {
  return createHmac('sha256', secret).update(`dynoproxy-peer ${role} ${snonce} ${cnonce}`).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One dnode frame of an auth type with a text payload. */
export function encodeAuthFrame(type: number, text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  const len = dnodeHeaderLength(0, type, 0, DNODE_VERSION, 1, DATA.length, payload.length);
  const out = Buffer.allocUnsafe(len + payload.length);
  const off = writeDnodeHeader(out, 0, 0, type, 0, DNODE_VERSION, 1, DATA, payload.length);
  out.set(payload, off);
  return out;
}

const HEX = /^[0-9a-f]+$/;

/** Server side of one exchange. */
export class PeerAuthServer {
  private readonly snonce = newNonce();
  private readonly secret: string;
  constructor(secret: string) {
    this.secret = secret;
  }

  challenge(): Buffer {
    return encodeAuthFrame(PEER_AUTH_CHALLENGE, CHALLENGE_PREFIX + this.snonce);
  }

  /** The OK frame for a valid proof, or null (the caller refuses and closes). */
  answer(type: number, payload: Uint8Array): Buffer | null {
    if (type !== PEER_AUTH_PROOF || payload.length !== NONCE_HEX + 1 + PROOF_HEX) return null;
    const text = Buffer.from(payload).toString('latin1');
    const cnonce = text.slice(0, NONCE_HEX);
    const given = text.slice(NONCE_HEX + 1);
    if (text[NONCE_HEX] !== ' ' || !HEX.test(cnonce) || !sameHex(given, proof(this.secret, 'client', this.snonce, cnonce))) return null;
    return encodeAuthFrame(PEER_AUTH_OK, proof(this.secret, 'server', this.snonce, cnonce));
  }
}

/** The refusal an unauthenticated peer gets before its connection is closed. */
export const PEER_AUTH_REFUSAL: Buffer = encodeAuthFrame(PEER_AUTH_REFUSED, '-ERR Peer: authentication failed (peer_secret differs or is missing)');

/** Client side of one exchange: feed it each auth frame; it says what to send, or that the link is ready, or why it failed. */
export class PeerAuthClient {
  private readonly cnonce = newNonce();
  private snonce: string | null = null;
  private readonly secret: string;
  constructor(secret: string) {
    this.secret = secret;
  }

  /** Bytes to send, `true` once the server proved itself, or a failure reason. */
  step(type: number, payload: Uint8Array): Buffer | true | string {
    const text = Buffer.from(payload).toString('latin1');
    if (type === PEER_AUTH_REFUSED) return 'Peer refused authentication (peer_secret differs)';
    if (this.snonce === null) {
      if (type !== PEER_AUTH_CHALLENGE || !text.startsWith(CHALLENGE_PREFIX)) return 'Peer sent no authentication challenge';
      const snonce = text.slice(CHALLENGE_PREFIX.length);
      if (snonce.length !== NONCE_HEX || !HEX.test(snonce)) return 'Peer sent a malformed authentication challenge';
      this.snonce = snonce;
      return encodeAuthFrame(PEER_AUTH_PROOF, `${this.cnonce} ${proof(this.secret, 'client', snonce, this.cnonce)}`);
    }
    if (type !== PEER_AUTH_OK || !sameHex(text, proof(this.secret, 'server', this.snonce, this.cnonce))) {
      return 'Peer failed to prove it knows peer_secret';
    }
    return true;
  }
}

export function isPeerAuthType(type: number): boolean {
  return type >= PEER_AUTH_CHALLENGE && type <= PEER_AUTH_REFUSED;
}
