// Public face of hints: hinted handoff shared by the data workers and the cluster worker — the bounded per-target store, its file
// in hints_dir, the keeper that decides what is hinted and replays it, and each protocol's words. Never routes a request itself.
export { HintStore, HintQueue, hintLimits, type HintLimits, type HintSink } from './hint-store.ts';
export { HintFiles, type HintPersistence } from './hint-persist.ts';
export { decodeFile, encodeHeader, encodeRecord, encodeSkip, hintFileName, listHintFiles, REC_HINT, REC_SKIP } from './hint-file.ts';
export { HintKeeper, REPLAY_BATCH, REPLAY_PER_TICK, type HintTargets } from './hint-keeper.ts';
export { RESP_HINT_WORDS, MEMCACHE_HINT_WORDS, type HintWords } from './hint-words.ts';
