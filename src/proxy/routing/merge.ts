// Merges for split RESP requests: DEL/EXISTS (sum), MSET (all OK), broadcasts, quorums (MGET streams: mget-stream-merge.ts).
// Never answers before every piece did; the first error of any piece is the client's answer, as twemproxy and Dynomite do.
import type { Merge } from '../../io/index.ts';
import { readIntegerReply, ERR_NO_QUORUM } from '../../protocol/resp/index.ts';

const OK = Buffer.from('+OK\r\n');

function copyOf(buf: Uint8Array, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(buf.subarray(start, end));
  return b;
}

abstract class ErrorFirst implements Merge {
  protected error: Buffer | null = null;
  part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError) {
      if (this.error === null) this.error = copyOf(buf, start, end);
      return;
    }
    this.good(index, buf, start, end);
  }
  protected abstract good(index: number, buf: Uint8Array, start: number, end: number): void;
  finish(): Uint8Array {
    return this.error ?? this.merged();
  }
  protected abstract merged(): Uint8Array;
}

/** DEL, UNLINK, EXISTS, TOUCH: integer replies added up. */
export class SumMerge extends ErrorFirst {
  private sum = 0;
  protected good(_index: number, buf: Uint8Array, start: number, end: number): void {
    const n = readIntegerReply(buf, start, end);
    if (Number.isNaN(n)) {
      if (this.error === null) this.error = Buffer.from('-ERR dynoproxy: a backend answered a split count with a non-integer reply\r\n');
      return;
    }
    this.sum += n;
  }
  protected merged(): Uint8Array {
    return Buffer.from(`:${this.sum}\r\n`, 'latin1');
  }
}

/** MSET: +OK when every piece said +OK. */
export class AllOkMerge extends ErrorFirst {
  protected good(): void {}
  protected merged(): Uint8Array {
    return OK;
  }
}

/** Broadcasts (SCRIPT LOAD/FLUSH): the first piece's reply, unless any piece failed. */
export class FirstReplyMerge extends ErrorFirst {
  private first: Buffer | null = null;
  protected good(index: number, buf: Uint8Array, start: number, end: number): void {
    if (index === 0 || this.first === null) this.first = copyOf(buf, start, end);
  }
  protected merged(): Uint8Array {
    return this.first ?? OK;
  }
}

const NO_QUORUM = ERR_NO_QUORUM;

/**
 * DC_QUORUM / DC_SAFE_QUORUM over the owners in every local rack: answered as soon as a majority of racks
 * succeeded (QUORUM) or returned the very same bytes (SAFE_QUORUM); SAFE fails when no majority can agree.
 */
export class QuorumMerge implements Merge {
  private readonly total: number;
  private readonly quorum: number;
  private readonly safe: boolean;
  private readonly replies: Buffer[] = [];
  private readonly errors: Buffer[] = [];
  private answer: Buffer | null = null;
  private answerIsError = false;
  /** The protocol's "no majority" reply (RESP by default; memcached passes its SERVER_ERROR line). */
  private readonly noQuorum: Buffer;
  decided = false;

  constructor(total: number, safe: boolean, noQuorum: Buffer = NO_QUORUM) {
    this.total = total;
    this.quorum = (total >> 1) + 1;
    this.safe = safe;
    this.noQuorum = noQuorum;
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    const copy = copyOf(buf, start, end);
    if (isError) this.errors.push(copy);
    else this.replies.push(copy);
    if (this.decided) return;
    const answered = this.replies.length + this.errors.length;
    if (!this.safe) {
      if (this.replies.length >= this.quorum) this.decide(this.replies[0], false);
      else if (this.errors.length > this.total - this.quorum) this.decide(this.errors[0], true);
      return;
    }
    if (!isError) {
      let same = 0;
      for (const r of this.replies) if (r.equals(copy)) same++;
      if (same >= this.quorum) return this.decide(copy, false);
    }
    // Can any group still reach a majority with the racks yet to answer?
    let best = 0;
    for (const r of this.replies) {
      let n = 0;
      for (const q of this.replies) if (q.equals(r)) n++;
      if (n > best) best = n;
    }
    if (best + (this.total - answered) < this.quorum) {
      if (this.errors.length > 0 && this.replies.length === 0) this.decide(this.errors[0], true);
      else this.decide(this.noQuorum, true);
    }
  }

  private decide(answer: Buffer, isError: boolean): void {
    this.decided = true;
    this.answer = answer;
    this.answerIsError = isError;
  }

  /** Decided on a reply a majority gave (not on an error or on the impossibility of a majority); the scanner's error test, so any protocol. */
  get succeeded(): boolean {
    return this.answer !== null && !this.answerIsError;
  }

  finish(): Uint8Array {
    return this.answer ?? this.replies[0] ?? this.errors[0] ?? this.noQuorum;
  }
}

/**
 * DC_EACH_SAFE_QUORUM: a safe quorum among the racks of every datacenter. Pieces are numbered rack by rack;
 * `dcOfPiece` says which datacenter each belongs to. The answer is the local datacenter's majority reply.
 */
export class EachDcQuorumMerge implements Merge {
  private readonly groups: QuorumMerge[];
  private readonly dcOfPiece: Int32Array;
  private readonly noQuorum: Buffer;
  decided = false;
  private failed = false;

  constructor(dcOfPiece: Int32Array, racksPerDc: readonly number[], noQuorum: Buffer = NO_QUORUM) {
    this.dcOfPiece = dcOfPiece;
    this.noQuorum = noQuorum;
    this.groups = racksPerDc.map((n) => new QuorumMerge(n, true, noQuorum));
  }

  part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    const g = this.groups[this.dcOfPiece[index]];
    g.part(index, buf, start, end, isError);
    if (this.decided) return;
    if (g.decided && !g.succeeded) {
      this.failed = true;
      this.decided = true;
      return;
    }
    if (this.groups.every((q) => q.decided)) this.decided = true;
  }

  finish(): Uint8Array {
    if (this.failed) return this.noQuorum;
    return this.groups[0].finish();
  }
}
