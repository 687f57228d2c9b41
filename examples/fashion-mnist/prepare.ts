/**
 * Turn Debian's dataset-fashion-mnist package (IDX files) into a folder
 * dataset that `imgcls train` reads:
 *
 *   data/train/<class>/<n>.png   60,000 images
 *   data/test/<class>/<n>.png    10,000 images
 *
 * where <n> is the image's zero-padded index in its IDX file.
 *
 *   npx tsx examples/fashion-mnist/prepare.ts [--out DIR] [--limit N] [--source DIR] [--force]
 *
 * Running it again does nothing when the output already holds a complete
 * dataset made with the same options (see the marker file MARKER).
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readIdxFile, type IdxArray } from './idx.ts';
import { mapLimit } from '../../src/train/dataset-util.ts';
import { encodeGreyPng } from './png.ts';

/** Label index → folder name: the official class names (README "Labels"), made safe as folder names. */
export const CLASS_NAMES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'] as const;

/** Where the Debian package dataset-fashion-mnist installs the IDX files. */
export const DEFAULT_SOURCE = '/usr/share/datasets/fashion-mnist';
export const DEFAULT_OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data');
/** Written last, so its presence means the dataset beside it is complete. Hidden, so imgcls ignores it. */
export const MARKER = '.fashion-mnist.json';

/** The splits: output folder, IDX file prefix, and the official image count. */
export const SPLITS = [
  { name: 'train', prefix: 'train', count: 60_000 },
  { name: 'test', prefix: 't10k', count: 10_000 },
] as const;
export const IMAGE_SIDE = 28;

type SplitName = (typeof SPLITS)[number]['name'];

export interface PrepareOptions {
  source: string;
  out: string;
  /** Take only the first `limit` images of each split. */
  limit?: number | undefined;
  /** Require the official counts (60,000 / 10,000) and 28×28 images; true by default. */
  countCheck?: boolean;
  /** Rebuild even when the output is already complete. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface Marker {
  dataset: 'fashion-mnist';
  version: 1;
  source: string;
  limit: number | null;
  splits: Record<SplitName, { images: number; of: number; classes: Record<string, number> }>;
}

export class PrepareError extends Error {
  override readonly name = 'PrepareError';
  constructor(
    message: string,
    readonly code: 'MISSING_SOURCE' | 'BAD_DATA' | 'BAD_OUTPUT',
  ) {
    super(message);
  }
}

/** The IDX file for a split and kind, plain or gzipped; null when neither exists. */
function findIdx(source: string, prefix: string, kind: 'images' | 'labels'): string | null {
  const base = path.join(source, `${prefix}-${kind}-${kind === 'images' ? 'idx3' : 'idx1'}-ubyte`);
  for (const file of [base, `${base}.gz`]) if (existsSync(file)) return file;
  return null;
}

interface SplitData {
  name: SplitName;
  images: IdxArray;
  labels: IdxArray;
  count: number;
  rows: number;
  cols: number;
}

function loadSplit(source: string, split: (typeof SPLITS)[number], countCheck: boolean): SplitData {
  const imageFile = findIdx(source, split.prefix, 'images')!;
  const labelFile = findIdx(source, split.prefix, 'labels')!;
  let images: IdxArray, labels: IdxArray;
  try {
    images = readIdxFile(imageFile);
    labels = readIdxFile(labelFile);
  } catch (err) {
    throw new PrepareError((err as Error).message, 'BAD_DATA');
  }
  const [count, rows, cols] = images.dims;
  if (images.dims.length !== 3 || count === undefined || rows === undefined || cols === undefined) {
    throw new PrepareError(`${imageFile} has dimensions ${images.dims.join('×')}; expected count×rows×cols`, 'BAD_DATA');
  }
  if (labels.dims.length !== 1) throw new PrepareError(`${labelFile} has dimensions ${labels.dims.join('×')}; expected one label per image`, 'BAD_DATA');
  if (labels.dims[0] !== count) throw new PrepareError(`${imageFile} holds ${count} images but ${labelFile} holds ${labels.dims[0]} labels`, 'BAD_DATA');
  if (countCheck && (count !== split.count || rows !== IMAGE_SIDE || cols !== IMAGE_SIDE)) {
    throw new PrepareError(
      `${imageFile} holds ${count} images of ${rows}×${cols}; Fashion-MNIST's ${split.name} split has ${split.count} of ${IMAGE_SIDE}×${IMAGE_SIDE}` +
        ' (pass --skip-count-check for other IDX data)',
      'BAD_DATA',
    );
  }
  const bad = labels.data.findIndex((l) => l >= CLASS_NAMES.length);
  if (bad >= 0) throw new PrepareError(`${labelFile}: label ${labels.data[bad]} at index ${bad} is not a class (0–${CLASS_NAMES.length - 1})`, 'BAD_DATA');
  return { name: split.name, images, labels, count, rows, cols };
}

async function readMarker(out: string): Promise<Marker | null> {
  try {
    return JSON.parse(await readFile(path.join(out, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

/** True when the marker matches the request and every class folder holds the number of PNGs it records. */
async function isComplete(out: string, marker: Marker | null, source: string, limit: number | null): Promise<boolean> {
  if (!marker || marker.dataset !== 'fashion-mnist' || marker.version !== 1 || marker.source !== source || marker.limit !== limit) return false;
  for (const split of SPLITS) {
    const recorded = marker.splits?.[split.name];
    if (!recorded) return false;
    for (const [label, expected] of Object.entries(recorded.classes)) {
      const names = await readdir(path.join(out, split.name, label)).catch(() => null);
      if (!names || names.filter((n) => n.endsWith('.png')).length !== expected) return false;
    }
  }
  return true;
}

/** Make `out` ready for writing: create it, or clear what an earlier run of this script left (and nothing else). */
async function clearOutput(out: string): Promise<void> {
  const entries = await readdir(out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const ours = new Set<string>([MARKER, ...SPLITS.map((s) => s.name)]);
  const foreign = entries.filter((e) => !ours.has(e));
  if (foreign.length > 0) {
    throw new PrepareError(
      `${out} holds files this script did not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}); choose an empty or new folder with --out`,
      'BAD_OUTPUT',
    );
  }
  // The marker first: an interrupted rebuild must not look complete.
  await rm(path.join(out, MARKER), { force: true });
  for (const split of SPLITS) await rm(path.join(out, split.name), { recursive: true, force: true });
  await mkdir(out, { recursive: true });
}

async function writeSplit(out: string, data: SplitData, limit: number | null, log: (line: string) => void): Promise<Marker['splits'][SplitName]> {
  const n = limit === null ? data.count : Math.min(limit, data.count);
  const pixels = data.rows * data.cols;
  const digits = Math.max(5, String(data.count - 1).length);
  const perLabel = new Array<number>(CLASS_NAMES.length).fill(0);
  for (const label of data.labels.data.subarray(0, n)) perLabel[label]!++;
  // In label order; classes absent from the first n images get no folder.
  const classes = Object.fromEntries(CLASS_NAMES.map((name, i) => [name, perLabel[i]!] as const).filter(([, c]) => c > 0));
  for (const label of Object.keys(classes)) await mkdir(path.join(out, data.name, label), { recursive: true });
  let written = 0;
  await mapLimit(Array.from({ length: n }, (_, i) => i), async (i) => {
    const png = encodeGreyPng(data.images.data.subarray(i * pixels, (i + 1) * pixels), data.cols, data.rows);
    await writeFile(path.join(out, data.name, CLASS_NAMES[data.labels.data[i]!]!, `${String(i).padStart(digits, '0')}.png`), png);
    if (++written % 10_000 === 0) log(`  ${data.name}: ${written.toLocaleString('en')} / ${n.toLocaleString('en')}`);
  });
  return { images: n, of: data.count, classes };
}

/**
 * Convert the IDX files in `source` into PNG class folders under `out`.
 * @returns whether the run was skipped (the output was already complete) and the marker describing the output.
 * @throws PrepareError MISSING_SOURCE, BAD_DATA or BAD_OUTPUT.
 */
export async function prepare(options: PrepareOptions): Promise<{ skipped: boolean; marker: Marker }> {
  const log = options.log ?? (() => {});
  const source = path.resolve(options.source);
  const out = path.resolve(options.out);
  const limit = options.limit ?? null;
  if (limit !== null && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`limit must be a positive integer, got ${limit}`);

  const previous = await readMarker(out);
  if (!options.force && previous && (await isComplete(out, previous, source, limit))) return { skipped: true, marker: previous };

  const missing = SPLITS.flatMap((s) => (['images', 'labels'] as const).filter((k) => !findIdx(source, s.prefix, k)).map((k) => `${s.prefix}-${k}`));
  if (missing.length > 0) throw new PrepareError(`${source} lacks the IDX files ${missing.join(', ')} (plain or .gz)`, 'MISSING_SOURCE');
  // Read and check everything before touching the output.
  const splits = SPLITS.map((s) => loadSplit(source, s, options.countCheck ?? true));

  await clearOutput(out);
  const marker: Marker = { dataset: 'fashion-mnist', version: 1, source, limit, splits: {} as Marker['splits'] };
  for (const data of splits) marker.splits[data.name] = await writeSplit(out, data, limit, log);
  await writeFile(path.join(out, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return { skipped: false, marker };
}

const USAGE = `Usage: npx tsx examples/fashion-mnist/prepare.ts [options]

Writes Fashion-MNIST as PNG class folders (train/<class>/, test/<class>/) for imgcls train.

Options:
  --out DIR            output folder (default: ${path.relative(process.cwd(), DEFAULT_OUT) || '.'})
  --source DIR         folder with the IDX files (default: ${DEFAULT_SOURCE}, from the Debian package dataset-fashion-mnist)
  --limit N            only the first N images of each split
  --force              rebuild even if the output is already complete
  --skip-count-check   accept IDX files whose counts or image size differ from Fashion-MNIST's
  -h, --help           show this help`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        source: { type: 'string' },
        limit: { type: 'string' },
        force: { type: 'boolean' },
        'skip-count-check': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1) {
      console.error(`--limit must be a positive integer, got "${values.limit}"`);
      return 1;
    }
  }
  const source = values.source ?? DEFAULT_SOURCE;
  const out = values.out ?? DEFAULT_OUT;
  const started = performance.now();
  try {
    const { skipped, marker } = await prepare({
      source,
      out,
      limit,
      force: values.force ?? false,
      countCheck: !values['skip-count-check'],
      log: (line) => console.error(line),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const counts = SPLITS.map((s) => `${s.name} ${marker.splits[s.name].images.toLocaleString('en')}`).join(', ');
    if (skipped) console.log(`${out} already holds the dataset (${counts}); nothing to do. Pass --force to rebuild.`);
    else console.log(`Wrote ${counts} PNG images to ${out} in ${seconds} s.`);
    return 0;
  } catch (err) {
    if (err instanceof PrepareError && err.code === 'MISSING_SOURCE' && values.source === undefined) {
      console.error(`Fashion-MNIST is not installed: ${err.message}.\nInstall it with:\n\n  sudo apt-get install dataset-fashion-mnist\n\nor pass --source DIR with the IDX files.`);
    } else if (err instanceof PrepareError) {
      console.error(err.message);
    } else {
      throw err;
    }
    return 1;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
