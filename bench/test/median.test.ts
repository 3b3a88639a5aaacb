// Tests of the order statistics used to summarise benchmark rounds.
// Never depends on timing.
import t from 'tap';
import { median, relativeSpread } from '../lib/median.ts';

t.test('median of odd and even samples, unsorted input left alone', async (t) => {
  const sample = [5, 1, 3];
  t.equal(median(sample), 3);
  t.same(sample, [5, 1, 3], 'input not mutated');
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])), 'empty sample is NaN, not 0');
});

t.test('relative spread is (max - min) / median', async (t) => {
  t.equal(relativeSpread([90, 100, 110]), 0.2);
  t.equal(relativeSpread([100, 100]), 0);
});
