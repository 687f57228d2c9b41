/** The CSV/TSV source: a table with an image column, a label column and optionally a split column. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../errors.ts';
import { IMAGE_EXTENSIONS, isImageName } from '../image/extensions.ts';
import { parseDelimited, sniffDelimiter } from './csv.ts';
import { probe } from './dataset-checks.ts';
import { imageTypes, lineList, listSome, plural, relative, sentence } from './dataset-text.ts';
import { SPLIT_NAMES, type Collected, type DatasetOptions, type Found, type Split } from './dataset-types.ts';
import { mapLimit } from './dataset-util.ts';

const DEFAULT_IMAGE_COLUMNS = ['image', 'path', 'file', 'filename', 'id'];
const DEFAULT_LABEL_COLUMNS = ['label', 'class', 'category', 'articleType', 'masterCategory'];
/** Tried in order when a CSV value has no extension and no --extension was given. */
const GUESSED_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

interface Row {
  value: string;
  label: string;
  split: Split;
  line: number;
}

export async function readCsv(file: string, name: string, options: DatasetOptions): Promise<Collected> {
  const warnings: string[] = [];
  const base = path.basename(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw createError('FILE_UNREADABLE', `Cannot read ${name}: ${(err as Error).message}`, err);
  }
  const table = parseDelimited(text, sniffDelimiter(file, text));
  const [head, ...records] = table.records;
  if (!head) throw createError('INVALID_OPTION', `${name} is empty; expected a header line naming an image column and a label column.`);
  if (table.unterminatedQuoteLine !== undefined) {
    warnings.push(`A quoted field opened on line ${table.unterminatedQuoteLine} of ${base} never closes; the rest of the file was read as part of it.`);
  }
  const header = head.fields.map((h) => h.trim());
  const columns = {
    image: findColumn(header, options.imageColumn, DEFAULT_IMAGE_COLUMNS),
    label: findColumn(header, options.labelColumn, DEFAULT_LABEL_COLUMNS),
    split: options.splitColumn === undefined ? undefined : findColumn(header, options.splitColumn, []),
  };
  const missing = [
    columns.image === undefined && describeWanted('image', options.imageColumn, DEFAULT_IMAGE_COLUMNS),
    columns.label === undefined && describeWanted('label', options.labelColumn, DEFAULT_LABEL_COLUMNS),
    columns.split === undefined && options.splitColumn !== undefined && describeWanted('split', options.splitColumn, []),
  ].filter((m): m is string => typeof m === 'string');
  if (missing.length > 0) {
    const guessed = (columns.image === undefined && options.imageColumn === undefined) || (columns.label === undefined && options.labelColumn === undefined);
    const pass = guessed ? ' Pass --image-column and --label-column to name them.' : '';
    throw createError('INVALID_OPTION', `${name} has ${missing.join(' and ')}; its columns are: ${header.map((h) => `"${h}"`).join(', ')}.${pass}`);
  }
  if (columns.image === columns.label) {
    throw createError('INVALID_OPTION', `The image column and the label column of ${name} are both "${header[columns.image!]}"; pass --image-column and --label-column.`);
  }
  const extension = normaliseExtension(options.extension);

  const rows: Row[] = [];
  const malformed: number[] = [];
  const noImage: number[] = [];
  const noLabel: number[] = [];
  const badSplit = new Map<string, number>();
  for (const { fields, line } of records) {
    if (fields.every((f) => f.trim() === '')) continue;
    if (fields.length !== header.length) {
      malformed.push(line);
      continue;
    }
    const value = fields[columns.image!]!.trim();
    const label = fields[columns.label!]!.trim();
    if (value === '') noImage.push(line);
    else if (label === '') noLabel.push(line);
    else {
      let split: Split = 'all';
      if (columns.split !== undefined) {
        const raw = fields[columns.split]!.trim();
        const known = SPLIT_NAMES[raw.toLowerCase()];
        if (!known) {
          badSplit.set(raw, (badSplit.get(raw) ?? 0) + 1);
          continue;
        }
        split = known;
      }
      rows.push({ value, label, split, line });
    }
  }
  if (malformed.length > 0) {
    warnings.push(`Skipped ${plural(malformed.length, 'malformed row')} in ${base} whose number of fields is not the header's ${header.length} (an unquoted delimiter inside a value?): ${lineList(malformed)}.`);
  }
  if (noImage.length > 0) warnings.push(`Skipped ${plural(noImage.length, 'row')} with an empty "${header[columns.image!]}" value: ${lineList(noImage)}.`);
  if (noLabel.length > 0) warnings.push(`Skipped ${plural(noLabel.length, 'row')} with an empty "${header[columns.label!]}" label: ${lineList(noLabel)}.`);
  if (badSplit.size > 0) {
    const seen = [...badSplit].map(([v, n]) => `"${v}" (${n})`);
    warnings.push(`Skipped rows whose "${header[columns.split!]}" value is not train, val or test: ${listSome(seen)}.`);
  }

  const csvDir = path.dirname(file);
  // Kaggle's fashion-products layout is styles.csv next to images/<id>.jpg, so images/ is the fallback.
  const searchDirs = options.imageDir !== undefined ? [path.resolve(options.imageDir)] : [csvDir, path.join(csvDir, 'images')];
  const listings = new Map<string, Promise<Set<string>>>();
  const exists = (full: string): Promise<boolean> => {
    const dir = path.dirname(full);
    let names = listings.get(dir);
    // One readdir per folder instead of a stat per guess: tens of thousands of rows × 2 folders × 3 extensions add up.
    if (!names) listings.set(dir, (names = readdir(dir).then((n) => new Set(n), () => new Set<string>())));
    return names.then((n) => n.has(path.basename(full)));
  };
  const resolved = await mapLimit(rows, async (row) => {
    for (const dir of searchDirs) for (const candidate of fileNames(row.value, extension)) {
      const full = path.resolve(dir, candidate);
      if (await exists(full)) return full;
    }
    return undefined;
  });
  const sizes = await mapLimit(resolved, (full) => (full === undefined ? Promise.resolve('not found') : probe(full)));

  const images: Found[] = [];
  const notFound: string[] = [];
  const unreadable: string[] = [];
  rows.forEach((row, i) => {
    const full = resolved[i];
    const size = sizes[i]!;
    if (full === undefined) notFound.push(`"${row.value}" (line ${row.line})`);
    else if (typeof size === 'string') unreadable.push(`${relative(csvDir, full)} (line ${row.line}: ${size})`);
    else images.push({ path: full, label: row.label, split: row.split, size, shown: `${relative(csvDir, full)} [${row.label}]` });
  });
  const shownDirs = searchDirs.map((d) => `${d}/`).join(' or ');
  if (notFound.length > 0) warnings.push(`Skipped ${plural(notFound.length, 'row')} whose image was not found under ${shownDirs}: ${listSome(notFound)}.`);
  if (unreadable.length > 0) warnings.push(`Skipped ${plural(unreadable.length, 'unreadable image')}: ${listSome(unreadable)}.`);
  if (images.length === 0) {
    // Nothing is left, so the warnings are the explanation: put them in the error.
    const why = rows.length === 0 ? `${name} lists no usable rows` : `none of the ${rows.length} images listed in ${name} were found or readable`;
    const hint = rows.length === 0 ? '' : ' Pass --image-dir for another folder, or --extension when the column holds ids.';
    throw createError('INVALID_OPTION', `${sentence(why)}.${hint}${warnings.length > 0 ? ` ${warnings.join(' ')}` : ''}`);
  }

  const where = (split: Split): string => (split === 'all' ? '' : `in the "${split}" split`);
  return { source: 'csv', name, images, where, warnings };
}

/** `no column "img"`, or `no image column (looked for "image", "path", ...)` when none was named. */
function describeWanted(kind: string, wanted: string | undefined, defaults: readonly string[]): string {
  if (wanted !== undefined) return `no ${kind} column "${wanted}"`;
  return `no ${kind} column (looked for ${defaults.map((d) => `"${d}"`).join(', ')})`;
}

/** The column named by the option (exact, then ignoring case), or the first default present. */
function findColumn(header: string[], wanted: string | undefined, defaults: readonly string[]): number | undefined {
  for (const name of wanted === undefined ? defaults : [wanted]) {
    const exact = header.indexOf(name);
    if (exact !== -1) return exact;
    const loose = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (loose !== -1) return loose;
  }
  return undefined;
}

function normaliseExtension(extension: string | undefined): string | undefined {
  if (extension === undefined) return undefined;
  const ext = `.${extension.replace(/^\./, '')}`;
  if (!IMAGE_EXTENSIONS.has(ext.toLowerCase())) {
    throw createError('INVALID_OPTION', `--extension ${extension} is not an image type imgcls reads (${imageTypes()}).`);
  }
  return ext;
}

/** File names a CSV value may stand for: the value itself, or the id with an extension. */
function fileNames(value: string, extension: string | undefined): string[] {
  // Paths written on Windows use backslashes.
  const file = path.sep === '/' ? value.replaceAll('\\', '/') : value;
  if (extension !== undefined) return [file.toLowerCase().endsWith(extension.toLowerCase()) ? file : file + extension];
  if (isImageName(file)) return [file];
  return GUESSED_EXTENSIONS.map((e) => file + e);
}
