// Suite "cluster": a 3-rack dynoproxy cluster at DC_ONE and DC_QUORUM; a stub until the cluster issue lands.
// Never pretends to measure: without src/cluster/ it says what it waits for and exits non-zero.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../lib/server-launchers.ts';
import type { BenchSuite } from './harness/suite-api.ts';

export const clusterSuite: BenchSuite = {
  name: 'cluster',
  description: '3 racks at DC_ONE and DC_QUORUM (needs the cluster issue)',
  defaults: { targets: '', rounds: 3, warmupMs: 250, durationMs: 1000 },
  async run() {
    const there = existsSync(join(repoRoot, 'src', 'cluster', 'index.ts'));
    throw new Error(there
      ? 'the cluster suite is not written yet: src/cluster/ exists now, so this stub can become the 3-rack DC_ONE / DC_QUORUM comparison'
      : 'the cluster suite needs the cluster issue (src/cluster/ does not exist yet): a 3-rack cluster at DC_ONE and DC_QUORUM');
  },
  charts: () => ({}),
  render: () => '',
};
