/**
 * Turn the command line's image and folder arguments into a flat, sorted
 * list of files. Folders are walked recursively for image extensions; a path
 * that does not exist is kept, so that it gets its own error line.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.avif', '.gif', '.tif', '.tiff']);

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    // Symlinked files count (wallpaper packages are full of them); symlinked folders are not followed, so no cycles.
    else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(full);
  }
}

export async function collectInputs(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => null);
    if (info?.isDirectory()) await walk(arg, files);
    else files.push(arg);
  }
  return files;
}
