// Ring plans: balanced tokens for a rack of N nodes (Dynomite's layout, i * 4294967295 / N) and the moves from the rack's current
// tokens to them — which node takes which token, and how much of the ring changes hands. Pure: no I/O; the admin API prints it.

const MAX = 4294967295;

export interface PlannedNode {
  /** The node now holding this slot (in ring order), or null for a node to add. */
  node: string | null;
  current: string | null;
  planned: string;
  /** Share of the ring (0..1) this node owns now and once the plan is applied. */
  shareNow: number;
  sharePlanned: number;
}

export interface RingPlan {
  nodes: number;
  tokens: string[];
  assignments: PlannedNode[];
  /** Share of the ring whose owner changes when the plan is applied (0..1). */
  moved: number;
}

/** Dynomite's balanced layout for n nodes: token i = floor(i * 4294967295 / n). */
export function balancedTokens(n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor((i * MAX) / n));
}

/** Shares of the ring each sorted token owns: (previous token, token], the first wrapping around. */
function shares(sorted: readonly number[]): number[] {
  return sorted.map((t, i) => (i === 0 ? t + (MAX - sorted[sorted.length - 1]) : t - sorted[i - 1]) / MAX);
}

/** Who owns hash h among sorted tokens: the first token >= h, wrapping to the first. */
function ownerOf(sorted: readonly number[], h: number): number {
  for (let i = 0; i < sorted.length; i++) if (h <= sorted[i]) return i;
  return 0;
}

/**
 * The plan for a rack whose nodes hold `current` (one token each: name and decimal token) to become `n` balanced nodes: current nodes
 * keep their ring order and take the first planned tokens; extra planned tokens are nodes to add (a plan smaller than the rack lists
 * the nodes to remove with planned ''). `moved` is measured on 4,096 evenly spaced hashes.
 */
export function planRing(current: readonly { name: string; token: number }[], n: number): RingPlan {
  const now = [...current].sort((a, b) => a.token - b.token);
  const target = balancedTokens(n);
  const nowShares = shares(now.map((x) => x.token));
  const targetShares = shares(target);
  const assignments: PlannedNode[] = [];
  for (let i = 0; i < Math.max(now.length, n); i++) {
    const c = now[i];
    assignments.push({
      node: c?.name ?? null, current: c !== undefined ? String(c.token) : null, planned: i < n ? String(target[i]) : '',
      shareNow: c !== undefined ? nowShares[i] : 0, sharePlanned: i < n ? targetShares[i] : 0,
    });
  }
  const samples = 4096;
  let moved = 0;
  const nowTokens = now.map((x) => x.token);
  for (let s = 0; s < samples; s++) {
    const h = Math.floor(((s + 0.5) * MAX) / samples);
    if (now.length === 0 || ownerOf(nowTokens, h) !== ownerOf(target, h)) moved++;
  }
  return { nodes: n, tokens: target.map(String), assignments, moved: moved / samples };
}
