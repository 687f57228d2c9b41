// The measurement behind `npm start`'s allocator variables: `npm run bench:env -- [--seconds 8] [--rounds 2] [--photos 2560x1600,4000x3000] [--only 2,3]`.
// For each environment below, a fresh `imgcls serve` (default model, default workers) with only those variables
// set (none of npm start's), under autocannon at concurrency 8 and then 32 on each photo, one after another on that
// server: requests/s and the server's peak RSS. The settings alternate in order over the rounds, so a slow spell on
// this shared machine does not land on one setting only. Needs `npm run build` (the servers run dist/).
import { existsSync } from 'node:fs';
import { benchPhotos } from './bench/photos.ts';
import { httpLoad, withServer } from './bench/http.ts';
import { alternating } from './bench/rounds.ts';
import { markdownTable, parseCommandLine } from './lib-nsfw/common.ts';
import { START_ENV } from './lib/server-process.ts';

// Debian's libjemalloc2 on x86-64; the row is left out where it is not installed.
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
const HUGE_PAGES = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };
/** A setting named by its variables. */
const variables = (env: Readonly<Record<string, string>>) => ({ name: Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' '), env });
const settings: { name: string; env: Readonly<Record<string, string>> }[] = [
  { name: 'none (glibc defaults)', env: {} },
  { name: `npm start (${variables(START_ENV).name})`, env: START_ENV },
  variables({ ...START_ENV, ...HUGE_PAGES }),
  variables(HUGE_PAGES),
  variables({ MALLOC_ARENA_MAX: '2' }),
  ...(existsSync(JEMALLOC) ? [{ name: 'jemalloc (LD_PRELOAD)', env: { LD_PRELOAD: JEMALLOC } }] : []),
];

const usage = 'usage: npm run bench:env -- [--seconds 8] [--rounds 2] [--photos 2560x1600,4000x3000] [--only 2,3]';
const { values } = parseCommandLine(
  { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '2' }, photos: { type: 'string', default: '2560x1600,4000x3000' }, only: { type: 'string' } },
  usage,
);
// --only 2,3: those rows of the table below (1-based), to compare two settings in less time.
const chosen = values.only === undefined ? settings : values.only.split(',').map((n) => {
  const setting = settings[Number(n) - 1];
  if (!setting) throw new Error(`--only ${values.only}: there are settings 1 to ${settings.length}`);
  return setting;
});
const seconds = Number(values.seconds);
const wanted = values.photos.split(',');
const photos = (await benchPhotos()).filter((p) => wanted.some((w) => p.name.startsWith(w)));
if (photos.length === 0) throw new Error(`no bench photo matches --photos ${values.photos}`);

// The variables any setting may set: each server starts with none of them inherited.
const managed = new Set(settings.flatMap((s) => Object.keys(s.env)));
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !managed.has(k)));

const rows: string[][] = [];
for (const [round, setting] of alternating(chosen, Number(values.rounds))) {
  await withServer([], { env: { ...baseEnv, ...setting.env }, startEnv: {} }, async (server) => {
    const cells: string[] = [String(round), setting.name];
    let peak = 0;
    for (const photo of photos) {
      const rps: string[] = [];
      for (const concurrency of [8, 32]) {
        console.error(`round ${round}, ${setting.name}: ${photo.name}, concurrency ${concurrency}`);
        const r = await httpLoad(server, photo, { concurrency, seconds });
        peak = Math.max(peak, r.peakRssMB);
        rps.push(r.rps.toFixed(1));
      }
      cells.push(rps.join(', '));
    }
    cells.push(String(Math.round(peak)));
    rows.push(cells);
  });
}
const header = ['round', 'environment', ...photos.map((p) => `${p.name}: requests/s at c8, c32`), 'peak RSS MB'];
console.log(markdownTable(header, rows, header.map((_, i) => (i === 1 ? 'l' : 'r'))));
