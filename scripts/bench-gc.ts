// Where the HTTP thread pauses under load: `npm run bench:gc -- [photo name part, default 640x480] [serve flags]`. Loads `imgcls serve` at concurrency 32 for 15 s and prints the server main thread's GC pauses and event-loop delay (BENCHMARKS.md, "Where the HTTP thread's time went" and "Latency at concurrency 1").
import { fileURLToPath } from 'node:url';
import { benchPhotos } from './bench/photos.ts';
import { httpLoad, startServer } from './bench/http.ts';
const photos = await benchPhotos();
const which = process.argv[2] ?? '640x480';
const photo = photos.find((p) => p.name.includes(which));
if (!photo) throw new Error(`no bench photo matches "${which}"; the photos are ${photos.map((p) => p.name).join(', ')}`);
const extra = process.argv.slice(3);
const server = await startServer(extra, { nodeArgs: [`--import=${fileURLToPath(new URL('./bench/gc-observer.mjs', import.meta.url))}`] });
const r = await httpLoad(server, photo, { concurrency: 32, seconds: 15 });
await server.stop();
const log = server.stderr();
console.log(photo.name, `rps ${r.rps.toFixed(1)} p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} healthz max ${r.healthMaxMs.toFixed(1)} p99 ${r.healthP99Ms.toFixed(1)} peak RSS ${r.peakRssMB}`);
console.log(log.split('\n').filter((l) => l.startsWith('GCSTATS')).join('\n'));
