// Differential test: streams and geo commands, direct redis-server vs dynoproxy (1 and 3 backends).
// It must never use server-generated stream IDs in compared replies: IDs are explicit so both sides agree.

import t from 'tap'
import { differential, sameKind, startDiffTargets, step } from '../helpers/differential.ts'

const env = await startDiffTargets(t)

t.test('streams', async (t) => {
  await differential(t, env, [
    step('XADD', 'x:s', '1-1', 'temp', '20', 'hum', '40'),
    step('XADD', 'x:s', '1-2', 'temp', '21'),
    step('XADD', 'x:s', '2-0', 'temp', '22', 'note', 'a\r\nb'),
    step('XADD', 'x:s', '1-5', 'late', 'x'),
    step('XADD', 'x:s', '3-*', 'auto', 'seq'),
    step('XADD', 'x:capped', 'MAXLEN', '2', '5-0', 'a', '1'),
    step('XADD', 'x:none', 'NOMKSTREAM', '1-1', 'a', '1'),
    step('EXISTS', 'x:none'),
    step('XLEN', 'x:s'),
    step('XRANGE', 'x:s', '-', '+'),
    step('XRANGE', 'x:s', '(1-1', '+', 'COUNT', '2'),
    step('XREVRANGE', 'x:s', '+', '-', 'COUNT', '1'),
    step('XREAD', 'COUNT', '2', 'STREAMS', 'x:s', '1-1'),
    step('XGROUP', 'CREATE', 'x:s', 'g1', '0'),
    step('XGROUP', 'CREATE', 'x:s', 'g1', '0'),
    step('XGROUP', 'CREATE', 'x:new', 'g1', '$', 'MKSTREAM'),
    step('XGROUP', 'CREATECONSUMER', 'x:s', 'g1', 'alice'),
    step('XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '2', 'STREAMS', 'x:s', '>'),
    step('XREADGROUP', 'GROUP', 'g1', 'bob', 'STREAMS', 'x:s', '>'),
    step('XREADGROUP', 'GROUP', 'g1', 'alice', 'STREAMS', 'x:s', '0'),
    step('XACK', 'x:s', 'g1', '1-1', '9-9'),
    sameKind('XPENDING', 'x:s', 'g1', '-', '+', '10', 'bob'),
    step('XPENDING', 'x:s', 'g1'),
    step('XCLAIM', 'x:s', 'g1', 'carol', '0', '1-2', 'JUSTID'),
    step('XAUTOCLAIM', 'x:s', 'g1', 'dave', '0', '0-0', 'COUNT', '1', 'JUSTID'),
    step('XDEL', 'x:s', '1-2', '7-7'),
    step('XTRIM', 'x:s', 'MAXLEN', '3'),
    step('XTRIM', 'x:s', 'MINID', '2-0'),
    step('XRANGE', 'x:s', '-', '+'),
    step('XSETID', 'x:s', '10-0'),
    step('XADD', 'x:s', '9-0', 'too', 'old'),
    step('XGROUP', 'SETID', 'x:s', 'g1', '0'),
    step('XGROUP', 'DELCONSUMER', 'x:s', 'g1', 'bob'),
    step('XGROUP', 'DESTROY', 'x:s', 'g1'),
    step('XINFO', 'STREAM', 'x:capped'),
    step('XADD', 'x:s', 'bad-id', 'a', '1'),
    step('XADD', 'x:s', '11-0'),
    step('SET', 'x:str', 'v'),
    step('XLEN', 'x:str'),
  ])
})

t.test('geo', async (t) => {
  await differential(t, env, [
    step('GEOADD', 'geo:sicily', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'),
    step('GEOADD', 'geo:sicily', 'NX', 'CH', '12.758489', '38.788135', 'edge1', '13.361389', '38.115556', 'Palermo'),
    step('GEOADD', 'geo:sicily', '200', '100', 'bad'),
    step('GEODIST', 'geo:sicily', 'Palermo', 'Catania'),
    step('GEODIST', 'geo:sicily', 'Palermo', 'Catania', 'km'),
    step('GEODIST', 'geo:sicily', 'Palermo', 'Nowhere'),
    step('GEOPOS', 'geo:sicily', 'Palermo', 'Nowhere', 'Catania'),
    step('GEOHASH', 'geo:sicily', 'Palermo', 'Catania'),
    step('GEOSEARCH', 'geo:sicily', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC', 'WITHCOORD', 'WITHDIST', 'WITHHASH'),
    step('GEOSEARCH', 'geo:sicily', 'FROMMEMBER', 'Palermo', 'BYBOX', '400', '400', 'km', 'DESC', 'COUNT', '2'),
    step('GEORADIUS', 'geo:sicily', '15', '37', '200', 'km', 'WITHDIST', 'ASC'),
    step('GEORADIUS_RO', 'geo:sicily', '15', '37', '100', 'km'),
    step('GEORADIUSBYMEMBER', 'geo:sicily', 'Palermo', '100', 'km', 'ASC'),
    step('GEOADD', '{geo}src', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'),
    step('GEOSEARCHSTORE', '{geo}dst', '{geo}src', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC', 'STOREDIST'),
    step('ZRANGE', '{geo}dst', '0', '-1', 'WITHSCORES'),
    step('ZSCORE', 'geo:sicily', 'Catania'),
    step('GEODIST', 'geo:none', 'a', 'b'),
    step('GEOSEARCH', 'geo:sicily', 'FROMLONLAT', '15', '37'),
  ])
})
