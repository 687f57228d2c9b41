// The measurement behind the default max batch: `npm run bench:batch -- [--seconds 8] [--sizes 1,2,4] [--rounds 2]`.
// For each max batch, a fresh `imgcls serve` (default model, default workers) under autocannon at concurrency 32,
// on the 224x224 PNG, the 0.3 MP JPEG and the 12 MP JPEG, one after another on that server: requests/s, p99 and
// the server's peak RSS. The sizes alternate over the rounds, so a slow spell on this shared machine does not
// land on one size only. Needs `npm run build` (the servers run dist/).
import { benchPhotos } from './bench/photos.ts';
import { httpLoad, withServer } from './bench/http.ts';
import { alternating } from './bench/rounds.ts';
import { markdownTable, parseCommandLine } from './lib-nsfw/common.ts';

const { values } = parseCommandLine(
  { seconds: { type: 'string', default: '8' }, sizes: { type: 'string', default: '1,2,4' }, rounds: { type: 'string', default: '2' } },
  'usage: npm run bench:batch -- [--seconds 8] [--sizes 1,2,4] [--rounds 2]',
);
const seconds = Number(values.seconds);
const sizes = values.sizes.split(',').map(Number);
const photos = (await benchPhotos()).filter((p) => !p.name.startsWith('2560x1600'));

const rows: string[][] = [];
for (const [round, size] of alternating(sizes, Number(values.rounds))) {
  await withServer(['--batch-size', String(size)], {}, async (server) => {
    const cells: string[] = [String(round), String(size)];
    let peak = 0;
    for (const photo of photos) {
      console.error(`round ${round}, batch ${size}: ${photo.name}`);
      const r = await httpLoad(server, photo, { concurrency: 32, seconds });
      peak = Math.max(peak, r.peakRssMB);
      cells.push(`${r.rps.toFixed(1)} (${r.p99Ms.toFixed(0)})`, String(Math.round(r.peakRssMB)));
    }
    cells.push(String(Math.round(peak)));
    rows.push(cells);
  });
}
const header = ['round', 'max batch', ...photos.flatMap((p) => [`${p.name}: requests/s (p99 ms)`, 'peak RSS MB']), 'peak RSS MB, all'];
console.log(markdownTable(header, rows, header.map(() => 'r')));
