/**
 * Asks V8 for a collection once enough decoded pixels have become garbage.
 *
 * sharp hands pixels over in buffers that a finaliser frees after V8 collects
 * them, and V8 does not count their memory (process.memoryUsage() reports
 * them in neither `external` nor `arrayBuffers`). So nothing hurries a
 * collection: an inference worker's own allocations are small, and at the
 * 12 MP RSS peak six dead 36 MB buffers were waiting for one (BENCHMARKS.md,
 * "Memory at large photos"). A major collection started asynchronously
 * (incremental marking, finished as the thread idles) costs the worker
 * 0.02 ms to request; a synchronous one cost 11 ms on a 12 MP photo's 80.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

/** V8's `gc` function, exposed after start-up (a context created after setting the flag gets it); null if that fails. */
export function exposeGc(): GcFunction | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    return null;
  }
}

/** Every this many bytes of dead pixels, one collection: one 12 MP photo's worth, or about three 4 MP ones. */
export const COLLECT_EVERY_BYTES = 32 * 2 ** 20;

/**
 * A function to call with the size of each buffer of pixels as it becomes
 * garbage. Returns a no-op where `gc` cannot be exposed: memory then behaves
 * as it did before this existed (collected when V8 decides).
 */
export function pixelGarbageCollector(everyBytes = COLLECT_EVERY_BYTES, gc = exposeGc()): (bytes: number) => void {
  if (!gc) return () => {};
  let dead = 0;
  return (bytes) => {
    dead += bytes;
    if (dead < everyBytes) return;
    dead = 0;
    gc({ type: 'major', execution: 'async' });
  };
}
