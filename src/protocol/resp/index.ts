// Public face of the RESP protocol part: request parser, reply scanner, reply writers and the client-facing reply table.
// Re-exports only: nothing here may do I/O or hold state.
export {
  RespRequestParser,
  PARSE_INCOMPLETE,
  PARSE_ERROR,
  DEFAULT_RESP_LIMITS,
  type RespLimits,
} from './request-parser.ts';
export {
  RespReplyScanner,
  SCAN_INCOMPLETE,
  SCAN_ERROR,
  arrayElementBounds,
  readIntegerReply,
} from './reply-scanner.ts';
export { RespPartScanner } from './part-scanner.ts';
export * from './encode.ts';
export * from './errors.ts';
export {
  RANGE_COMMAND, PURGE_COMMAND, isPurgeCommand, PTTL_DUMP_LUA, MAX_RANGES, MAX_RANGE_COUNT, isRangeCommand, encodeRangeRequest, parseRangeRequest, inHashRanges, entryBytes, encodeRangeReply,
  rangeError, decodeRangeReply, encodeMemcacheRangeRequest, isMemcacheRangeCommand, memcacheRangeCommand, MC_RANGE, MC_PURGE, memcacheRangeArgs, wrapMemcacheRangeReply,
  unwrapMemcacheRangeReply, type RangeRequest, type RangeEntry, type RangeReply,
} from './range-copy.ts';
export {
  GOSSIP_COMMAND, isGossipCommand, encodeGossipRequest, encodeGossipReply, gossipReplyRecords, HELLO_REQUEST, HELLO_REPLY, isHelloRequest, isHelloReply, wrapMemcacheResp, unwrapMemcacheResp,
} from './gossip-command.ts';
export {
  REPAIR_COMMAND, MAX_BUCKETS, MAX_REPAIR_RANGES, MAX_REPAIR_BATCH, TTL_BUCKET_MS, TTL_TOLERANCE_MS, VALUE_DIGEST_CHARS, isRepairCommand,
  encodeRepairRequest, parseRepairRequest, rangeOffset, bucketOf, ttlBucket, sameExpiry, FOLD, encodeRowsReply, encodeDigestReply, encodeKeysReply, encodeFetchReply,
  encodePutReply, repairError, decodeFlatArray, decodeDigestReply, decodeKeysReply, decodeFetchReply, type RepairRequest, type DigestReply,
  type KeyEntry, type FetchEntry,
} from './repair-codec.ts';
