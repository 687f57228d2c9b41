// Where a thread's time went, from a V8 CPU profile (`node --cpu-prof`): `npm run profile:summary -- FILE.cpuprofile [top]`.
// Prints self time per function and the share of the sampled time, idle and garbage collection included.
// BENCHMARKS.md ("Where the HTTP thread's time went") profiles the server with
// `IMGCLS_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:gc -- 640x480`;
// the main thread's profile is the file whose name has the thread id 0 (`CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`).
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, top = '25'] = process.argv.slice(2);
if (!file) {
  console.error('usage: npm run profile:summary -- FILE.cpuprofile [top]');
  process.exit(2);
}
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}${url ? `:${lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + dt);
});
console.log(`${(total / 1000).toFixed(0)} ms sampled`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
}
