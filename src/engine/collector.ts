/**
 * Asks V8 for a collection once enough memory it does not watch closely has
 * become garbage: decoded pixels in an inference worker, request bodies on
 * the HTTP thread.
 *
 * Pixels: sharp hands pixels over in buffers that a finaliser frees after V8 collects
 * them, and V8 does not count their memory (process.memoryUsage() reports
 * them in neither `external` nor `arrayBuffers`). So nothing hurries a
 * collection: an inference worker's own allocations are small, and at the
 * 12 MP RSS peak six dead 36 MB buffers were waiting for one (BENCHMARKS.md,
 * "Memory at large photos"). A major collection started asynchronously
 * (incremental marking, finished as the thread idles) costs the worker
 * 0.02 ms to request; a synchronous one cost 11 ms on a 12 MP photo's 80.
 *
 * Request bodies: V8 does count them, as external memory, and starts a full
 * collection of the HTTP thread's heap (about 20 MB, mostly the libraries'
 * code) once enough has piled up since the last one, every 40 or so uploads
 * of a 125 kB photo: a 7-12 ms pause plus as much again in marking steps,
 * which made a request in 40 twice as slow. A young-generation collection
 * frees the dead bodies first for 1-2 ms, and V8's own come too rarely for
 * that: the thread allocates little JavaScript between uploads
 * (BENCHMARKS.md, "Latency at concurrency 1").
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

let exposed: GcFunction | null | undefined;

/** V8's `gc` function, exposed after start-up (a context created after setting the flag gets it; once per thread); null if that fails. */
export function exposeGc(): GcFunction | null {
  if (exposed !== undefined) return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    exposed = typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    exposed = null;
  }
  return exposed;
}

/**
 * A function to call with the size of each piece of memory as it becomes
 * garbage: every `everyBytes`, it asks for an asynchronous collection of
 * `type` (started now, run as the thread idles; on Node 20 a synchronous
 * `{type: 'major'}` does only a minor one). Returns a no-op where `gc`
 * cannot be exposed: memory then behaves as it would without it.
 */
export function garbageCollector(type: 'major' | 'minor', everyBytes: number, gc = exposeGc()): (bytes: number) => void {
  if (!gc) return () => {};
  let dead = 0;
  return (bytes) => {
    dead += bytes;
    if (dead < everyBytes) return;
    dead = 0;
    gc({ type, execution: 'async' });
  };
}

/** Every this many bytes of dead pixels, one collection: one 12 MP photo's worth, or about three 4 MP ones. */
export const COLLECT_EVERY_BYTES = 32 * 2 ** 20;

/** For an inference worker: told the size of each buffer of full-size pixels as it dies. */
export function pixelGarbageCollector(everyBytes = COLLECT_EVERY_BYTES, gc = exposeGc()): (bytes: number) => void {
  return garbageCollector('major', everyBytes, gc);
}

/** Every this many bytes of request bodies, one young-generation collection: about 30 uploads of a 125 kB photo, or each 12 MP one. */
export const BODY_COLLECT_EVERY_BYTES = 4 * 2 ** 20;

/** For the HTTP thread: told the bytes each request read, once its response has gone. */
export function bodyGarbageCollector(everyBytes = BODY_COLLECT_EVERY_BYTES, gc = exposeGc()): (bytes: number) => void {
  return garbageCollector('minor', everyBytes, gc);
}
