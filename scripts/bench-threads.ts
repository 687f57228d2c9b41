// Where the CPU goes per image, by thread (Linux only: each thread's CPU time is read from /proc before and after).
//
//   npm run bench:threads -- [photo] [seconds]
//     The default model in process, as `npm run bench`'s pipeline level runs it (8 requests in flight).
//   npm run bench:threads -- --http [--generator wrk|autocannon] [--concurrency 32] [photo] [seconds]
//     `imgcls serve` in a child process (build first), loaded as `npm run bench`'s HTTP level loads it: the server's
//     threads per request, and the load generator's CPU per request (on the same CPUs).
//
// Defaults: test/fixtures/photo-astronaut-224.png, 8 s. Threads are named by the kernel: Node's own (the calling or
// HTTP thread, the two inference workers, libuv's pool and V8's helpers) are all "node"; libvips names its workers.
// BENCHMARKS.md, "Plain PNGs without libvips" and "Reading multipart bodies", used it.
import { readFileSync } from 'node:fs';
import { Classifier } from '../src/engine/classifier.ts';
import { resolveModel } from '../src/store/store.ts';
import { classifyTop5 } from './bench/classify.ts';
import { exitedChildrenMs, threadTimes } from './bench/cpu-times.ts';
import { drive } from './bench/drive.ts';
import { chooseGenerator, httpLoad, imageUpload, scrapeMetric, withServer } from './bench/http.ts';
import { fmtMs, markdownTable, parseCommandLine } from './lib-nsfw/common.ts';

const USAGE = 'usage: npm run bench:threads -- [--http [--generator wrk|autocannon] [--concurrency N]] [photo] [seconds]';
const { values: opts, positionals } = parseCommandLine(
  {
    http: { type: 'boolean', default: false },
    generator: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
  },
  USAGE,
);
const photo = positionals[0] ?? 'test/fixtures/photo-astronaut-224.png';
const seconds = Number(positionals[1] ?? 8);
const bytes = new Uint8Array(readFileSync(photo));

type Times = Map<number, { name: string; ms: number }>;

/** Each thread's CPU ms between two readings, busiest first, and their sum. */
function spent(before: Times, after: Times): { rows: { tid: number; name: string; ms: number }[]; total: number } {
  const rows = [...after]
    .map(([tid, { name, ms }]) => ({ tid, name, ms: ms - (before.get(tid)?.ms ?? 0) }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms);
  return { rows, total: rows.reduce((sum, t) => sum + t.ms, 0) };
}

function threadTable(rows: { tid: number; name: string; ms: number }[], per: number, unit: 'image' | 'request'): string {
  return markdownTable(['thread', 'name', `CPU ms per ${unit}`], rows.map((t) => [String(t.tid), t.name, fmtMs(t.ms / per)]), ['r', 'l', 'r']);
}

async function inProcess(): Promise<void> {
  const classifier = await Classifier.load(await resolveModel('nsfw-mobilenet-v2', {}));
  try {
    const work = async () => void (await classifyTop5(classifier, bytes, photo));
    await drive(work, { concurrency: 8, seconds: 1 });
    const before = threadTimes();
    const result = await drive(work, { concurrency: 8, seconds, warmupSeconds: 0 });
    const { rows, total } = spent(before, threadTimes());
    console.log(`${photo}: ${result.perSecond.toFixed(1)} images/s over ${result.seconds.toFixed(1)} s; ${(total / 1000 / result.seconds).toFixed(2)} CPUs busy; ${fmtMs(total / result.images)} ms of CPU per image`);
    console.log('');
    console.log(threadTable(rows, result.images, 'image'));
  } finally {
    await classifier.close();
  }
}

async function overHttp(): Promise<void> {
  const generator = chooseGenerator(opts.generator);
  const concurrency = Number(opts.concurrency);
  const upload = imageUpload(photo);
  await withServer(['--model', 'nsfw-mobilenet-v2'], {}, async (server) => {
    // httpLoad counts only its window, so CPU is divided by every image the server answered between the two readings.
    const answered = async () => (await scrapeMetric(server, 'imgcls_images_total')).filter((m) => m.labels.includes('outcome="ok"')).reduce((n, m) => n + m.value, 0);
    await httpLoad(server, upload, { concurrency, seconds: 2, warmupSeconds: 0, generator });
    const [answeredBefore, serverBefore, selfBefore, childrenBefore] = [await answered(), threadTimes(server.pid), threadTimes(), exitedChildrenMs()];
    const load = await httpLoad(server, upload, { concurrency, seconds, generator });
    const [serverAfter, selfAfter, childrenAfter] = [threadTimes(server.pid), threadTimes(), exitedChildrenMs()];
    const requests = (await answered()) - answeredBefore;
    const inServer = spent(serverBefore, serverAfter);
    const client = spent(selfBefore, selfAfter).total + (childrenAfter - childrenBefore);
    console.log(`${photo} over HTTP, concurrency ${concurrency}, ${generator}: ${load.rps.toFixed(1)} requests/s in the window; ${requests} requests answered while measured`);
    console.log(`server: ${fmtMs(inServer.total / requests)} ms of CPU per request; load generator and this benchmark (health probes, RSS sampling): ${fmtMs(client / requests)} ms`);
    console.log('');
    console.log(threadTable(inServer.rows, requests, 'request'));
  });
}

await (opts.http ? overHttp() : inProcess());
