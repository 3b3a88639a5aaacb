// DynomiteGate: what a Dynomite peer's request parser would reject never leaves this node. A request that would reach a Dynomite
// node goes as it is, rewritten to a form with the same meaning and reply (UNLINK as DEL), or is refused whole before anything is sent.
// Never sends a refused request anywhere, never refuses one that reaches no Dynomite node, and allocates nothing when a request fits.
import {
  dynomiteFit, dynomiteRewriteOf, dynomiteRefusal, isWrite, DYN_FITS, DYN_REWRITE, type CommandSpec, type DynomiteRewrite,
} from '../../commands/index.ts';
import { P } from '../../stats/index.ts';
import { clusterRoute, hashKeys, replicatePiecesToRack, type ClusterRuntime, type DynomiteCheck, type RespClientLike } from './resp-cluster.ts';
import { replicateTo } from '../routing/cluster-replicate.ts';
import { dynomiteRefusedReply } from './resp-replies.ts';
import { scratch, type Args } from '../routing/scratch.ts';

/** admit(): route the request on as it is. */
export const GATE_PASS = -1;

/** A request rebuilt in the gate's own buffer (not scratch.enc: split pieces are encoded there from these arguments). */
class RewrittenArgs implements Args {
  argBuf: Uint8Array = Buffer.allocUnsafeSlow(4096);
  argOff = new Int32Array(64);
  argLen = new Int32Array(64);
  argc = 0;
  len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.argBuf.length) return;
    let size = this.argBuf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = Buffer.allocUnsafeSlow(size);
    nb.set(this.argBuf.subarray(0, this.len));
    this.argBuf = nb;
  }

  private header(prefix: number, n: number): void {
    const text = n < 10 ? DIGITS[n] : String(n);
    this.reserve(text.length + 3);
    const b = this.argBuf;
    b[this.len++] = prefix;
    for (let i = 0; i < text.length; i++) b[this.len++] = text.charCodeAt(i);
    b[this.len++] = 13;
    b[this.len++] = 10;
  }

  private bulk(src: Uint8Array, off: number, n: number): void {
    this.header(0x24, n);
    this.reserve(n + 2);
    this.argOff[this.argc] = this.len;
    this.argLen[this.argc++] = n;
    this.argBuf.set(src.subarray(off, off + n), this.len);
    this.len += n;
    this.argBuf[this.len++] = 13;
    this.argBuf[this.len++] = 10;
  }

  /** `rw.to` then the client's arguments 1..keep-1, as RESP. */
  encode(rw: DynomiteRewrite, a: Args): void {
    const keep = rw.keep < 0 ? a.argc : rw.keep;
    if (this.argOff.length < keep) {
      this.argOff = new Int32Array(keep * 2);
      this.argLen = new Int32Array(keep * 2);
    }
    this.len = 0;
    this.argc = 0;
    this.header(0x2a, keep);
    this.bulk(rw.toBytes, 0, rw.toBytes.length);
    for (let i = 1; i < keep; i++) this.bulk(a.argBuf, a.argOff[i], a.argLen[i]);
  }
}
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export class DynomiteGate implements DynomiteCheck {
  private readonly cl: ClusterRuntime;
  private readonly maxKeyBytes: number;
  private readonly rw = new RewrittenArgs();

  constructor(cl: ClusterRuntime, maxKeyBytes: number) {
    this.cl = cl;
    this.maxKeyBytes = maxKeyBytes;
  }

  /**
   * Called first by clusterRoute. GATE_PASS: route on. Otherwise the request was dealt with here: refused with its
   * reason (1), or routed in its rewritten form, whose result (1, or 0: keys not servable together) is returned.
   */
  admit(c: RespClientLike, spec: CommandSpec, a: Args, n: number, splittable: boolean): number {
    const v = dynomiteFit(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes);
    if (v === DYN_FITS) return GATE_PASS;
    const cl = this.cl;
    if (v === DYN_REWRITE) {
      // The same meaning and reply everywhere, so dynoproxy nodes get the rewritten form too: one form, one route.
      const rw = dynomiteRewriteOf(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes) as DynomiteRewrite;
      this.rw.encode(rw, a);
      cl.st[P.dynomite_rewritten_total]++;
      const args = this.rw;
      return clusterRoute(c, cl, rw.toSpec, args, n, args.argBuf, 0, args.len, splittable) ? 1 : 0;
    }
    if (!this.reachesDynomite(c, spec, a, n)) return GATE_PASS;
    cl.st[P.dynomite_refused_total]++;
    c.replyLocal(this.refusal(spec, a));
    return 1;
  }

  /** A broadcast (SCRIPT LOAD, FUNCTION ...) goes to every peer: refused here, answered, when a Dynomite peer cannot parse it. */
  refusesBroadcast(c: RespClientLike, spec: CommandSpec, a: Args): boolean {
    if (dynomiteFit(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes) === DYN_FITS) return false;
    this.cl.st[P.dynomite_refused_total]++;
    c.replyLocal(this.refusal(spec, a));
    return true;
  }

  /**
   * The peer server's fan-out of a write another datacenter forwarded, to this datacenter's other racks. Returns false when
   * the request fits Dynomite as it is (the caller fans out as usual); else it fanned out here: rewritten, or to the
   * racks whose owners are not Dynomite nodes, counting each one skipped.
   */
  fanOutForwarded(spec: CommandSpec, a: Args, n: number, racks: ArrayLike<number>, bytes: Uint8Array, start: number, end: number): boolean {
    const v = dynomiteFit(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes);
    if (v === DYN_FITS) return false;
    const cl = this.cl;
    const view = cl.current();
    const split = spec.route === 'split-concat' || spec.route === 'split-sum' || spec.route === 'split-pairs';
    const h = hashKeys(cl, a, n);
    let args: Args = a;
    if (v === DYN_REWRITE) {
      const rw = dynomiteRewriteOf(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes) as DynomiteRewrite;
      this.rw.encode(rw, a);
      cl.st[P.dynomite_rewritten_total]++;
      args = this.rw;
      bytes = this.rw.argBuf;
      start = 0;
      end = this.rw.len;
    }
    // keyIndexes() filled scratch.keyIdx for this request; a rewrite keeps key positions.
    const key = scratch.keyIdx[0];
    for (let i = 0; i < racks.length; i++) {
      const r = racks[i];
      if (v !== DYN_REWRITE && this.rackHasDynomiteOwner(r, h, n)) {
        cl.st[P.dynomite_fanout_skipped_total]++;
        continue;
      }
      if (split) replicatePiecesToRack(cl, args, n, h, spec, r);
      else {
        const node = view.ownerInRack(r, h[0]);
        replicateTo(cl, node, cl.upstream(node, args.argBuf, args.argOff[key], args.argOff[key] + args.argLen[key]), bytes, start, end, false);
      }
    }
    return true;
  }

  private refusal(spec: CommandSpec, a: Args): Buffer {
    const reason = dynomiteRefusal(spec, a.argBuf, a.argOff, a.argLen, a.argc, this.maxKeyBytes);
    return dynomiteRefusedReply(spec.name.replace('|', ' ').toUpperCase(), reason);
  }

  /** Whether any node this request (its pieces, its replica writes) would reach runs Dynomite. */
  private reachesDynomite(c: RespClientLike, spec: CommandSpec, a: Args, n: number): boolean {
    // Keyless requests are served by this node's own datastore.
    if (n === 0) return false;
    const cl = this.cl;
    const view = cl.current();
    const write = isWrite(spec);
    // The racks clusterRoute reads from at this level (a split read only reads the local rack, a subset). Writes reach every
    // rack, through other nodes too.
    const level = write ? null : (c.consistency ?? cl.readConsistency());
    let racks: Int32Array;
    let count: number;
    if (write || (level === 'DC_EACH_SAFE_QUORUM' && view.racksPerDc.length > 1)) {
      racks = view.allRacksByDc;
      count = racks.length;
    } else {
      racks = view.localRacks;
      count = level === 'DC_ONE' || racks.length === 1 ? 1 : racks.length;
    }
    const h = hashKeys(cl, a, n);
    for (let i = 0; i < count; i++) if (this.rackHasDynomiteOwner(racks[i], h, n)) return true;
    return false;
  }

  private rackHasDynomiteOwner(rack: number, h: Float64Array, n: number): boolean {
    const view = this.cl.view;
    for (let i = 0; i < n; i++) if (view.dynomiteNode[view.ownerInRack(rack, h[i])] === 1) return true;
    return false;
  }
}
