/**
 * Parsing of command-line option values into typed settings, once, at the
 * boundary. Every failure is an INVALID_OPTION error quoting the flag.
 */
import type { ArgsDef } from 'citty';
import { createError } from '../errors.ts';
import { Classifier, DEFAULT_MAX_BATCH, DEFAULT_MAX_DELAY_MS, type ClassifierOptions } from '../engine/classifier.ts';
import type { Resampler } from '../engine/image-jobs.ts';
import { DEFAULT_TOP_K, parseTopKText, type TopK } from '../engine/postprocess.ts';
import type { Device, GraphOptimization } from '../engine/session.ts';
import { INTERPOLATION_NAMES, INTERPOLATIONS, type InterpolationName } from '../model/manifest.ts';
import type { SpecOverrides } from '../model/resolve.ts';
import type { Size } from '../model/spec.ts';
import { DEFAULT_MODEL } from '../store/builtin.ts';
import { resolveModel, type StoreOptions } from '../store/store.ts';
import type { CliIO } from './io.ts';
import { barProgress } from './progress.ts';
import type { Shard } from './shard.ts';

const invalid = (flag: string, expected: string, value: unknown): never => {
  throw createError('INVALID_OPTION', `Expected ${expected} for --${flag} but received "${String(value)}"`);
};

export function parsePositiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) invalid(flag, 'a positive integer', value);
  return Number(value);
}

export function parseNonNegativeInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim())) invalid(flag, 'a whole number of at least 0', value);
  return Number(value);
}

export function parseNonNegativeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) invalid(flag, 'a number of at least 0', value);
  return n;
}

/** A number in [lo, hi). */
export function parseFraction(flag: string, value: string, lo: number, hi: number): number {
  const x = parseNumber(flag, value);
  if (!(x >= lo && x < hi)) invalid(flag, `a number from ${lo} up to ${hi}`, value);
  return x;
}

export function parseNumber(flag: string, value: string, positive = false): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (positive && n <= 0)) invalid(flag, positive ? 'a positive number' : 'a number', value);
  return n;
}

export function parseTopK(value: string | undefined): TopK {
  if (value === undefined) return DEFAULT_TOP_K;
  return parseTopKText(value) ?? invalid('top-k', 'a positive integer', value);
}

/** `224` or `224x160` (width x height). */
export function parseSize(flag: string, value: string): Size {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1 || (m[2] !== undefined && Number(m[2]) < 1)) invalid(flag, 'a size like 224 or 224x160 (width x height)', value);
  const width = Number(m![1]);
  return { width, height: m![2] === undefined ? width : Number(m![2]) };
}

/** `0.485,0.456,0.406`, or one number for all three channels. */
export function parseTriple(flag: string, value: string, positive: boolean): [number, number, number] {
  const parts = value.split(',').map((p) => parseNumber(flag, p, positive));
  if (parts.length === 1) return [parts[0]!, parts[0]!, parts[0]!];
  if (parts.length !== 3) invalid(flag, 'three comma-separated numbers (R,G,B) or one number', value);
  return parts as [number, number, number];
}

export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) invalid(flag, `one of ${choices.join(', ')}`, value);
  return value as T;
}

const INTERPOLATION_NOTES: Partial<Record<InterpolationName, string>> = { 'bilinear-align-corners': 'TF.js resizeBilinear, as nsfwjs' };

/** Help for an `--interpolation` flag: every name, with a note where one helps. */
export const INTERPOLATION_HELP = (() => {
  const names = INTERPOLATION_NAMES.map((n) => (INTERPOLATION_NOTES[n] ? `${n} (${INTERPOLATION_NOTES[n]})` : n));
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}`;
})();

/** `--store`, for every command that reads or writes the model store. */
export const storeArg = {
  store: { type: 'string', description: 'Model store directory (default: $IMGCLS_HOME, else ~/.cache/imgcls)', valueHint: 'dir' },
} as const satisfies ArgsDef;

/** Flags shared by every command that loads a model. */
export const modelArgs = {
  model: { type: 'string', description: `Model: a built-in (${DEFAULT_MODEL} is the default), a name in the store, or a package directory`, valueHint: 'name|dir' },
  ...storeArg,
  workers: { type: 'string', description: 'Inference worker threads (default: one per CPU, counting a container CPU limit; 0 runs the model on the main thread)', valueHint: 'n' },
  threads: { type: 'string', description: 'onnxruntime threads per worker (default 1; with --workers 0, one per core)', valueHint: 'n' },
  device: { type: 'string', description: 'Execution provider: cpu or cuda (falls back to cpu with a warning)', default: 'cpu' },
  optimization: { type: 'string', description: 'Graph optimisation: disabled, basic, extended or all', default: 'all' },
  resampler: { type: 'string', description: 'Who resizes: sharp (fast, shrink-on-load) or pillow (PIL-exact pixels, full-size decode)', default: 'sharp' },
  'batch-size': { type: 'string', description: `Most images per inference call (default: the package's batching.max_batch, else ${DEFAULT_MAX_BATCH})`, valueHint: 'n' },
  'max-delay': { type: 'string', description: `Most ms an image waits for others to fill a batch while a worker is idle (default: the package's batching.max_delay_ms, else ${DEFAULT_MAX_DELAY_MS})`, valueHint: 'ms' },
  size: { type: 'string', description: 'Override: model input size, e.g. 224 or 224x160', valueHint: 'WxH' },
  resize: { type: 'string', description: 'Override: resize the shorter side to this, then centre crop', valueHint: 'n' },
  'resize-mode': { type: 'string', description: 'Override: shorter (then crop), stretch or none' },
  interpolation: { type: 'string', description: `Override: ${INTERPOLATION_HELP}` },
  scale: { type: 'string', description: 'Override: multiply pixel values (0-255) by this first', valueHint: 'x' },
  mean: { type: 'string', description: 'Override: per-channel mean, R,G,B', valueHint: 'r,g,b' },
  std: { type: 'string', description: 'Override: per-channel std, R,G,B', valueHint: 'r,g,b' },
  'channel-order': { type: 'string', description: 'Override: RGB or BGR' },
  layout: { type: 'string', description: 'Override: NCHW or NHWC' },
  activation: { type: 'string', description: 'Override: softmax, sigmoid or none' },
  'input-name': { type: 'string', description: 'Override: the graph input that takes the image' },
  'output-name': { type: 'string', description: 'Override: the graph output that holds the scores' },
} as const satisfies ArgsDef;

type ModelArgValues = { [K in keyof typeof modelArgs]?: string | boolean };

/** Turn the model flags into classifier options. */
export function classifierOptions(args: ModelArgValues, onWarning: (m: string) => void): ClassifierOptions {
  const v = (k: keyof typeof modelArgs): string | undefined => {
    const value = args[k];
    return typeof value === 'string' ? value : undefined;
  };
  const o: SpecOverrides = {};
  if (v('size') !== undefined) o.size = parseSize('size', v('size')!);
  if (v('resize') !== undefined) o.resize = parsePositiveInt('resize', v('resize')!);
  if (v('resize-mode') !== undefined) o.resizeMode = parseChoice('resize-mode', v('resize-mode')!, ['shorter', 'stretch', 'none'] as const);
  if (v('interpolation') !== undefined) o.interpolation = INTERPOLATIONS[parseChoice('interpolation', v('interpolation')!, INTERPOLATION_NAMES)];
  if (v('scale') !== undefined) o.scale = parseNumber('scale', v('scale')!, true);
  if (v('mean') !== undefined) o.mean = parseTriple('mean', v('mean')!, false);
  if (v('std') !== undefined) o.std = parseTriple('std', v('std')!, true);
  if (v('channel-order') !== undefined) o.channelOrder = parseChoice('channel-order', v('channel-order')!, ['RGB', 'BGR'] as const);
  if (v('layout') !== undefined) o.layout = parseChoice('layout', v('layout')!, ['NCHW', 'NHWC'] as const);
  if (v('activation') !== undefined) o.activation = parseChoice('activation', v('activation')!, ['softmax', 'sigmoid', 'none'] as const);
  if (v('input-name') !== undefined) o.inputName = v('input-name');
  if (v('output-name') !== undefined) o.outputName = v('output-name');
  return {
    overrides: o,
    threads: v('threads') === undefined ? undefined : parsePositiveInt('threads', v('threads')!),
    device: parseChoice<Device>('device', v('device') ?? 'cpu', ['cpu', 'cuda']),
    optimization: parseChoice<GraphOptimization>('optimization', v('optimization') ?? 'all', ['disabled', 'basic', 'extended', 'all']),
    maxBatch: v('batch-size') === undefined ? undefined : parsePositiveInt('batch-size', v('batch-size')!),
    maxDelayMs: v('max-delay') === undefined ? undefined : parseNonNegativeNumber('max-delay', v('max-delay')!),
    workers: v('workers') === undefined ? undefined : parseNonNegativeInt('workers', v('workers')!),
    resampler: parseChoice<Resampler>('resampler', v('resampler') ?? 'sharp', ['sharp', 'pillow']),
    onWarning,
  };
}

/**
 * citty accepts any flag; we refuse the ones a command does not define, so a
 * typo like --topk is an error instead of being ignored.
 */
export function checkKnownFlags(rawArgs: readonly string[], defs: ArgsDef): void {
  const known = new Set<string>(['help', 'h']);
  for (const [name, def] of Object.entries(defs)) {
    known.add(name);
    for (const a of aliasesOf(def)) known.add(a);
    if (def.type === 'boolean') known.add(`no-${name}`);
  }
  for (const { name, word } of flagsIn(rawArgs, valueFlags(defs))) {
    if (!known.has(name)) {
      const flags = Object.keys(defs).filter((k) => defs[k]!.type !== 'positional').map((k) => `--${k}`).join(', ');
      throw createError('INVALID_OPTION', `Unknown option ${word}; this command takes ${flags}`);
    }
  }
}

const aliasesOf = (def: ArgsDef[string]): string[] => ('alias' in def ? [def.alias ?? []].flat() : []);

/** The names (and aliases) of the flags in `defs` that take a value. */
function valueFlags(defs: ArgsDef): Set<string> {
  const names = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== 'boolean' && def.type !== 'positional') for (const n of [name, ...aliasesOf(def)]) names.add(n);
  }
  return names;
}

interface FlagWord {
  name: string;
  /** Given with `=` or as the next word; undefined for a flag that takes none. */
  value: string | undefined;
  /** The flag as written, without its `=value`. */
  word: string;
}

/**
 * The flags in `rawArgs`, up to `--`. A flag in `takesValue` takes the next
 * word as its value whatever it looks like, as citty reads it: so `-0.5` or
 * `-1/2` is a value, and so is `--port` in `--model --port 8081` (which then
 * fails as a model named "--port" rather than being read two ways).
 */
function flagsIn(rawArgs: readonly string[], takesValue: ReadonlySet<string>): FlagWord[] {
  const flags: FlagWord[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const raw = rawArgs[i]!;
    if (raw === '--') break;
    if (!raw.startsWith('-') || raw === '-') continue;
    const eq = raw.indexOf('=');
    const word = eq < 0 ? raw : raw.slice(0, eq);
    const name = word.replace(/^--?/, '');
    let value = eq < 0 ? undefined : raw.slice(eq + 1);
    if (value === undefined && takesValue.has(name) && i + 1 < rawArgs.length) value = rawArgs[++i];
    flags.push({ name, value, word });
  }
  return flags;
}

/** The flag names on the command line, as `--flag`, `--flag=...` or `--no-flag` (named without `no-`); `defs` says which flags take the next word as their value. */
export function flagsGiven(rawArgs: readonly string[], defs: ArgsDef): Set<string> {
  return new Set(flagsIn(rawArgs, valueFlags(defs)).map((f) => f.name.replace(/^no-/, '')));
}

/** The model store `--store` names, telling stderr when a slow step (a conversion) starts. */
export function storeOptions(store: string | undefined, io: CliIO): StoreOptions {
  // Plain lines even on a terminal: stderr may be a server's log.
  return { store, onProgress: (m) => io.err(m), progress: barProgress(io, false) };
}

/** Where `--model` points: a built-in (converted into the store on first use), a stored name or a directory. */
export async function modelDir(args: { model?: string; store?: string }, io: CliIO): Promise<string> {
  return resolveModel(args.model, storeOptions(args.store, io));
}

/** Resolve `--model` and load it with the model flags. */
export async function loadClassifier(args: ModelArgValues & { model?: string; store?: string }, io: CliIO): Promise<Classifier> {
  const options = classifierOptions(args, (m) => io.err(`warning: ${m}`));
  return Classifier.load(await modelDir(args, io), options);
}

/** `20MB`, `512k`, `1048576`: a byte count, with an optional binary unit. */
export function parseBytes(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(value.trim());
  if (!m) invalid(flag, 'a size in bytes like 20MB, 512k or 1048576', value);
  const unit = (m![2] ?? 'b').toLowerCase()[0]!;
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1;
  const bytes = Math.floor(Number(m![1]) * factor);
  if (bytes < 1) invalid(flag, 'a positive size', value);
  return bytes;
}

/** Every value of a flag given several times (citty keeps only the last). */
export function repeatedFlag(rawArgs: readonly string[], flag: string, defs: ArgsDef): string[] {
  return flagsIn(rawArgs, valueFlags(defs))
    .filter((f) => f.name === flag && f.value !== undefined && f.word.startsWith('--'))
    .map((f) => f.value!);
}

/** `--shard i/n`: shard i (0-based, like Kubernetes' JOB_COMPLETION_INDEX) of n. */
export function parseShard(flag: string, value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(count) || count < 1 || !(index < count)) invalid(flag, 'i/n with 0 <= i < n (like 0/4)', value);
  return { index, count };
}
