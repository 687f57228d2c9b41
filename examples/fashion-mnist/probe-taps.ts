/**
 * Measure tap points of the default backbone: for each `layer@pool`, train the
 * default linear head and print validation and test accuracy. This produced
 * the table "Why block 13" in README.md:
 *
 *   npx tsx examples/fashion-mnist/prepare.ts --out /tmp/fm5k --limit 5000
 *   npx tsx examples/fashion-mnist/probe-taps.ts /tmp/fm5k block_13_expand_relu@grid:2 out_relu@avg ...
 *
 * Models go to <dataset>-probe/<layer>-<pool>; features to the default cache.
 */
import { join } from 'node:path';
import { storeDir } from '../../src/store/store.ts';
import { loadDataset } from '../../src/train/dataset.ts';
import { train } from '../../src/train/train.ts';

const [location, ...taps] = process.argv.slice(2);
if (!location || taps.length === 0) {
  console.error('usage: probe-taps.ts <dataset> <layer@pool> [...]');
  process.exit(2);
}
const dataset = await loadDataset(location);
for (const tap of taps) {
  const [layer, pool] = tap.split('@');
  const r = await train({
    dataset,
    location,
    out: join(`${location}-probe`, `${layer}-${(pool ?? 'avg').replace(':', '')}`),
    name: 'probe',
    backbone: { layer, pool },
    cacheDir: join(storeDir(), 'features'),
  });
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(`${layer} ${pool ?? 'avg'}: ${r.backbone.dim} features, test ${r.test ? pct(r.test.accuracy) : '-'}, val ${pct(r.validation.accuracy)}, ${r.head.epochs_run} epochs, features ${r.timing.features_seconds.toFixed(0)} s`);
}
