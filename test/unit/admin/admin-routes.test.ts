// Admin URL routing: every Dynomite path maps to its action, bad arguments are 400, unknown paths 404, never a silent OK.
// Pure: no server is started.

import t from 'tap'
import { route, repairStart, ringMove, HELP_TEXT } from '../../../src/admin/index.ts'

t.test('read-only paths', async (t) => {
  for (const [path, kind] of [
    ['/', 'info'], ['/info', 'info'], ['/info/', 'info'], ['/help', 'help'], ['/ping', 'ping'], ['/describe', 'describe'],
    ['/cluster_describe', 'cluster_describe'], ['/get_consistency', 'get_consistency'], ['/get_timeout_factor', 'get_timeout_factor'],
    ['/state/get_state', 'get_state'], ['/metrics', 'metrics'], ['/dashboard', 'dashboard'], ['/events', 'events'],
  ] as const) {
    t.match(route(path), { kind, mutates: false }, path)
  }
})

t.test('state-changing paths carry their argument and are marked as mutating', async (t) => {
  t.same(route('/set_consistency/read/dc_safe_quorum'), { kind: 'set_consistency', mutates: true, op: 'read', level: 'DC_SAFE_QUORUM' })
  t.same(route('/set_consistency/write/DC_Each_Safe_Quorum'), { kind: 'set_consistency', mutates: true, op: 'write', level: 'DC_EACH_SAFE_QUORUM' })
  t.same(route('/set_timeout_factor/7'), { kind: 'set_timeout_factor', mutates: true, value: 7 })
  t.same(route('/state/writes_only'), { kind: 'set_state', mutates: true, state: 'WRITES_ONLY' })
  t.same(route('/state/resuming'), { kind: 'set_state', mutates: true, state: 'RESUMING' })
  t.same(route('/state/warm_up'), { kind: 'warm_up', mutates: true }, 'warm-up: a change, so authorised like the states')
  t.same(route('/peer/down/127.0.0.1:6379'), { kind: 'peer', mutates: true, verb: 'down', name: '127.0.0.1:6379' })
  t.same(route('/peer/reset/all'), { kind: 'peer', mutates: true, verb: 'reset', name: 'all' })
  t.same(route('/peer/up/a%20b'), { kind: 'peer', mutates: true, verb: 'up', name: 'a b' }, 'names are percent-decoded')
  t.same(route('/loglevelup'), { kind: 'log_level', mutates: true, delta: 1, value: 0 })
  t.same(route('/setloglevel/11'), { kind: 'log_level', mutates: true, delta: 0, value: 11 })
  t.same(route('/historeset'), { kind: 'historeset', mutates: true })
})

t.test('bad arguments are 400, unknown paths and states 404', async (t) => {
  for (const p of ['/set_consistency/read', '/set_consistency/read/dc_all', '/set_consistency/both/dc_one', '/set_timeout_factor/', '/set_timeout_factor/1.5',
    '/setloglevel/12', '/setloglevel/x', '/peer/sideways/all', '/peer/down', '/peer/down/', '/%E0%A4%A']) {
    t.match(route(p), { kind: 'error', status: 400 }, p)
  }
  for (const p of ['/standby', '/state/asleep', '/state', '/infos', '/metrics/x']) t.match(route(p), { kind: 'error', status: 404 }, p)
})

t.test('/help names every endpoint and ends like Dynomite\'s with a blank line', async (t) => {
  for (const p of ['/info', '/cluster_describe', '/set_timeout_factor/<1-10>', '/peer/<up|down|reset>', '/setloglevel/<0-11>', '/metrics', '/dashboard']) t.ok(HELP_TEXT.includes(p), p)
  t.ok(HELP_TEXT.endsWith('\n\n'))
})

t.test('/repair: GET reads; POST\'s query is the whole node or a checked start..end range', async (t) => {
  t.same(route('/repair'), { kind: 'repair', mutates: false })
  t.same(repairStart(''), { kind: 'repair_start', mutates: true, range: null })
  t.same(repairStart('start=5&end=4294967295'), { kind: 'repair_start', mutates: true, range: { start: 5, end: 4294967295 } })
  t.same(repairStart('start=4000000000&end=10'), { kind: 'repair_start', mutates: true, range: { start: 4000000000, end: 10 } }, 'a range that wraps')
  for (const [q, why] of [
    ['start=x&end=1', /invalid start token/], ['start=1&end=4294967296', /invalid end token/], ['start=1', /both start and end/],
    ['end=1', /both start and end/], ['start=1&end=2&node=3', /unknown parameter/], ['start=1.5&end=2', /invalid start/],
  ] as const) {
    t.match(repairStart(q), { kind: 'error', status: 400, message: why }, q)
  }
  t.match(HELP_TEXT, /\/repair/)
})

t.test('/ring/move: a checked token (or comma list) in the query; it changes the node, so it needs POST', async (t) => {
  t.same(route('/ring/move', 'token=3322359758'), { kind: 'ring_move', mutates: true, tokens: ['3322359758'] })
  t.same(ringMove('tokens=1,4294967295'), { kind: 'ring_move', mutates: true, tokens: ['1', '4294967295'] })
  t.same(ringMove('token=007'), { kind: 'ring_move', mutates: true, tokens: ['7'] }, 'written as the ring shows it')
  for (const [q, why] of [
    ['', /use \/ring\/move\?token=/], ['token=', /use \/ring\/move/], ['token=abc', /invalid token 'abc'/], ['token=4294967296', /invalid token/],
    ['token=1&token=2', /once/], ['token=1&tokens=2', /once/], ['token=1&node=2', /unknown parameter 'node'/], ['token=-1', /invalid token/],
    ['tokens=1,,2', /invalid token ''/], [`tokens=${Array.from({ length: 257 }, (_, i) => i).join(',')}`, /257 tokens/],
  ] as const) {
    t.match(route('/ring/move', q), { kind: 'error', status: 400, message: why }, q)
  }
  t.match(route('/ring/move/x', 'token=1'), { kind: 'error', status: 400 }, 'no sub-path')
  t.match(HELP_TEXT, /\/ring\/move\?token=/)
})
