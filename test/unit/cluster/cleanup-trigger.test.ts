// The cleanup trigger: a node cleans up after any of its key-hash ranges moved away, however it learned of the move (it may never
// have seen the joiner's JOINING record, only the joiner serving).
import t from 'tap'
import { rangesLost } from '../../../src/cluster/cleanup.ts'

t.test('a range that shrank, split or went is lost; one that stayed or grew is not', async (t) => {
  t.equal(rangesLost([0, 99], [0, 99]), false, 'unchanged')
  t.equal(rangesLost([0, 99], [0, 199]), false, 'grew (a neighbour left)')
  t.equal(rangesLost([10, 99], [0, 5, 10, 99]), false, 'grew on the other side')
  t.equal(rangesLost([0, 99], [50, 99]), true, 'a joiner took the first half')
  t.equal(rangesLost([0, 99], [0, 49]), true, 'a joiner took the second half')
  t.equal(rangesLost([0, 99, 200, 299], [0, 99]), true, 'one of two ranges went')
  t.equal(rangesLost([0, 99], []), true, 'every range went (a replacement took the tokens)')
  t.equal(rangesLost([], []), false, 'nothing held')
  t.equal(rangesLost([0, 0xffffffff], [0x80000000, 0xffffffff]), true, 'the whole ring, then half of it')
})
