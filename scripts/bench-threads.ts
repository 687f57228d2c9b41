// Where the CPU goes per image, by thread: `npm run bench:threads -- [photo] [seconds]` (defaults:
// test/fixtures/photo-astronaut-224.png, 8 s). The default model in process, as `npm run bench`'s pipeline level
// runs it (8 requests in flight), with each thread's CPU time read from /proc/self/task before and after (Linux only).
// Threads are named by the kernel: Node's own (the calling thread, the two inference workers, libuv's pool and V8's
// helpers) are all "node"; libvips names its workers. BENCHMARKS.md, "Plain PNGs without libvips", used it.
import { readdirSync, readFileSync } from 'node:fs';
import { Classifier } from '../src/engine/classifier.ts';
import { resolveModel } from '../src/store/store.ts';
import { drive } from './bench/drive.ts';
import { fmtMs, markdownTable } from './lib-nsfw/common.ts';

const photo = process.argv[2] ?? 'test/fixtures/photo-astronaut-224.png';
const seconds = Number(process.argv[3] ?? 8);
const bytes = new Uint8Array(readFileSync(photo));
// USER_HZ: /proc's clock ticks are 1/100 s on Linux.
const TICK_MS = 10;

/** CPU ms so far of every thread of this process, by thread id, with the kernel's name for it. */
function threadTimes(): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the name: state is the first, utime the 12th and stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), { name, ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS });
  }
  return out;
}

const classifier = await Classifier.load(await resolveModel('nsfw-mobilenet-v2', {}));
try {
  const work = async () => {
    const [r] = await classifier.classify([bytes], { topK: 5 });
    if (!r?.ok) throw new Error(`imgcls failed on ${photo}: ${r ? r.error.message : 'no result'}`);
  };
  await drive(work, { concurrency: 8, seconds: 1 });
  const before = threadTimes();
  const result = await drive(work, { concurrency: 8, seconds, warmupSeconds: 0 });
  const after = threadTimes();
  const rows = [...after]
    .map(([tid, { name, ms }]) => ({ tid, name, ms: ms - (before.get(tid)?.ms ?? 0) }))
    .filter((t) => t.ms > 0)
    .sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((sum, t) => sum + t.ms, 0);
  console.log(`${photo}: ${result.perSecond.toFixed(1)} images/s over ${result.seconds.toFixed(1)} s; ${(total / 1000 / result.seconds).toFixed(2)} CPUs busy; ${fmtMs(total / result.images)} ms of CPU per image`);
  console.log('');
  console.log(markdownTable(['thread', 'name', 'CPU ms per image'], rows.map((t) => [String(t.tid), t.name, fmtMs(t.ms / result.images)]), ['r', 'l', 'r']));
} finally {
  await classifier.close();
}
