/**
 * Which file names count as images when walking folders (the CLI's inputs,
 * the dataset reader), and the order they are listed in.
 */
import path from 'node:path';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.avif', '.gif', '.tif', '.tiff']);

/** Whether a file name has one of IMAGE_EXTENSIONS, in any case. */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** Code-unit order: the same on every machine, whatever the locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
