/**
 * `predict --shard i/n`: which of the inputs one shard of a batch job
 * classifies. A file's shard depends only on its path string, never on the
 * machine, the file's contents or which other shards run, so n independent
 * processes (Kubernetes Indexed Job pods, a shell loop) cover every input
 * exactly once without talking to each other.
 */

/** Shard `index` of `count`; `index` is 0-based, like JOB_COMPLETION_INDEX. */
export interface Shard {
  index: number;
  count: number;
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/**
 * FNV-1a, 32 bits, of the text's UTF-8 bytes. Chosen because it is tiny,
 * fixed by its spec (so another tool can recompute a file's shard), and
 * spreads similar names (`img_0001.jpg`, `img_0002.jpg`) evenly.
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of utf8.encode(text)) hash = Math.imul(hash ^ byte, FNV_PRIME);
  return hash >>> 0;
}

/** Whether `file` (the path exactly as collectInputs lists it) belongs to `shard`. */
function inShard(file: string, shard: Shard): boolean {
  return fnv1a32(file) % shard.count === shard.index;
}

/** The files of `shard`, in their original order. */
export function selectShard(files: readonly string[], shard: Shard): string[] {
  return files.filter((f) => inShard(f, shard));
}
