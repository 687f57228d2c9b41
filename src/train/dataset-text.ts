/** Wording helpers for the dataset reader's warnings and errors. */
import path from 'node:path';
import { IMAGE_EXTENSIONS } from '../image/extensions.ts';

export const LIST_LIMIT = 20;

export function imageTypes(): string {
  return [...IMAGE_EXTENSIONS].join(', ');
}

export function relative(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** `class "cat" in train/`, or `classes "cat", "dog"` */
export function classPhrase(labels: string | string[], where: string): string {
  const list = typeof labels === 'string' ? [labels] : labels;
  const names = listSome(list.map((l) => `"${l}"`));
  return `${list.length === 1 ? 'class' : 'classes'} ${names}${where ? ` ${where}` : ''}`;
}

export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** "line 4", or "lines 4, 9 and 2 more" */
export function lineList(lines: readonly number[]): string {
  return `${lines.length === 1 ? 'line' : 'lines'} ${listSome(lines.map(String))}`;
}

/** "a, b, c", or the first `max` then "and N more". */
export function listSome(items: readonly string[], max = LIST_LIMIT, separator = ', '): string {
  if (items.length <= max) return items.join(separator);
  return `${items.slice(0, max).join(separator)} and ${items.length - max} more`;
}
