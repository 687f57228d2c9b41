/**
 * The folder source: a folder per class, optionally inside train/, val/ and
 * test/ split folders.
 */
import { type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../errors.ts';
import { compare, isImageName } from '../image/extensions.ts';
import { probe } from './dataset-checks.ts';
import { classPhrase, imageTypes, LIST_LIMIT, listSome, plural, relative, sentence } from './dataset-text.ts';
import { SPLIT_NAMES, SPLIT_ORDER, type Collected, type Found, type Split } from './dataset-types.ts';
import { mapLimit } from './dataset-util.ts';

/** Folder names that mark a split; the CSV value aliases (training, dev...) are not folder conventions. */
const SPLIT_FOLDERS = new Set(['train', 'val', 'valid', 'validation', 'test']);

interface ClassDir {
  dir: string;
  label: string;
  split: Split;
}

export async function readFolder(root: string, name: string): Promise<Collected> {
  const warnings: string[] = [];
  const { classDirs, splitFolder } = await findClassDirs(root, name, warnings);
  const where = (split: Split): string => `in ${split === 'all' ? `${name.replace(/\/+$/, '')}/` : splitFolder.get(split)}`;
  const walked = { files: [] as { file: string; label: string; split: Split }[], other: [] as string[], linkedDirs: [] as string[] };
  const empty: string[] = [];
  for (const c of classDirs) {
    const before = walked.files.length;
    await walkClass(c.dir, root, walked, c.label, c.split);
    if (walked.files.length === before) empty.push(`${classPhrase(c.label, where(c.split))} has no images`);
  }
  if (empty.length > 0) {
    // All of them at once, so fixing the folder is one round trip.
    throw createError('INVALID_OPTION', `${sentence(listSome(empty, LIST_LIMIT, '; '))}. Every class folder needs at least one image (${imageTypes()}).`);
  }
  if (walked.other.length > 0) {
    warnings.push(`Skipped ${plural(walked.other.length, 'file')} that ${walked.other.length === 1 ? 'is' : 'are'} not an image (${imageTypes()}): ${listSome(walked.other)}.`);
  }
  if (walked.linkedDirs.length > 0) {
    warnings.push(`Did not follow ${plural(walked.linkedDirs.length, 'symlinked folder')}: ${listSome(walked.linkedDirs)}.`);
  }

  const sizes = await mapLimit(walked.files, (f) => probe(f.file));
  const images: Found[] = [];
  const unreadable: string[] = [];
  const readable = new Set<string>();
  walked.files.forEach((f, i) => {
    const size = sizes[i]!;
    const key = `${f.split}\0${f.label}`;
    if (typeof size === 'string') unreadable.push(`${relative(root, f.file)} (${size})`);
    else {
      images.push({ path: f.file, label: f.label, split: f.split, size, shown: relative(root, f.file) });
      readable.add(key);
    }
  });
  for (const c of classDirs) {
    if (!readable.has(`${c.split}\0${c.label}`)) {
      throw createError('INVALID_OPTION', `${sentence(classPhrase(c.label, where(c.split)))} has no readable images: ${listSome(unreadable.filter((u) => u.startsWith(relative(root, c.dir) + '/')))}.`);
    }
  }
  if (unreadable.length > 0) warnings.push(`Skipped ${plural(unreadable.length, 'unreadable image')}: ${listSome(unreadable)}.`);
  return { source: 'folder', name, images, where, warnings };
}

/**
 * The class folders of a folder dataset: the split folders' subfolders when
 * there are train/ val/ test/ folders, else the top-level subfolders.
 */
async function findClassDirs(root: string, name: string, warnings: string[]): Promise<{ classDirs: ClassDir[]; splitFolder: Map<Split, string> }> {
  const top = await listDir(root);
  const topDirs = top.filter((e) => e.isDirectory());
  // In split order, so messages say train/ before test/.
  const splitOf = (e: Dirent): Split => SPLIT_NAMES[e.name.toLowerCase()]!;
  const splitDirs = topDirs
    .filter((e) => SPLIT_FOLDERS.has(e.name.toLowerCase()))
    .sort((a, b) => SPLIT_ORDER.indexOf(splitOf(a)) - SPLIT_ORDER.indexOf(splitOf(b)));

  const classDirs: ClassDir[] = [];
  const splitFolder = new Map<Split, string>();
  const loose: string[] = [];
  const noteLoose = (entries: Dirent[], prefix: string): void => {
    for (const e of entries) if (!e.isDirectory() && isImageName(e.name)) loose.push(prefix + e.name);
  };

  if (splitDirs.length > 0) {
    for (const e of splitDirs) {
      const split = splitOf(e);
      const other = splitFolder.get(split);
      if (other !== undefined) {
        throw createError('INVALID_OPTION', `${name} has both ${other} and ${e.name}/ as validation splits; keep one.`);
      }
      splitFolder.set(split, `${e.name}/`);
      const entries = await listDir(path.join(root, e.name));
      const classes = entries.filter((c) => c.isDirectory());
      if (classes.length === 0) {
        throw createError('INVALID_OPTION', `${e.name}/ in ${name} has no class folders; each split folder must hold one folder per class.`);
      }
      for (const c of classes) classDirs.push({ dir: path.join(root, e.name, c.name), label: c.name, split });
      noteLoose(entries, `${e.name}/`);
    }
    const others = topDirs.filter((e) => !SPLIT_FOLDERS.has(e.name.toLowerCase()));
    if (others.length > 0) {
      warnings.push(`Ignored ${plural(others.length, 'folder')} next to the split folders: ${listSome(others.map((e) => `${e.name}/`))}.`);
    }
  } else {
    for (const c of topDirs) classDirs.push({ dir: path.join(root, c.name), label: c.name, split: 'all' });
  }
  noteLoose(top, '');

  if (classDirs.length === 0) {
    const csv = top.find((e) => !e.isDirectory() && /\.(csv|tsv)$/i.test(e.name));
    const hint = csv ? ` To read ${csv.name}, pass the file itself.` : '';
    throw createError(
      'INVALID_OPTION',
      `${name} has no class folders: expected one folder of images per class, optionally inside train/, val/ and test/ folders.${hint}`,
    );
  }
  if (loose.length > 0) {
    warnings.push(`Ignored ${plural(loose.length, 'image')} outside any class folder: ${listSome(loose)}.`);
  }

  return { classDirs, splitFolder };
}

/** Collect image files below a class folder, recursively, like collectInputs: hidden entries skipped, symlinked files kept, symlinked folders not followed (no cycles). */
async function walkClass(
  dir: string,
  root: string,
  out: { files: { file: string; label: string; split: Split }[]; other: string[]; linkedDirs: string[] },
  label: string,
  split: Split,
): Promise<void> {
  for (const e of await listDir(dir)) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      await walkClass(full, root, out, label, split);
      continue;
    }
    // A symlink may point at a folder; say so rather than calling it "not an image".
    if (e.isSymbolicLink() && (await stat(full).catch(() => null))?.isDirectory()) out.linkedDirs.push(relative(root, full));
    else if (isImageName(e.name)) out.files.push({ file: full, label, split });
    else out.other.push(relative(root, full));
  }
}

/** Visible entries of a folder, sorted by name so the walk is deterministic. */
async function listDir(dir: string): Promise<Dirent[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw createError('FILE_UNREADABLE', `Cannot read the folder ${dir}: ${(err as Error).message}`, err);
  }
  return entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => compare(a.name, b.name));
}
