/**
 * Label lists in the formats people already have: Triton's labels.txt,
 * TorchServe's index_to_name.json, Keras' imagenet_class_index.json and the
 * Hugging Face config's id2label.
 */
import { createError } from '../errors.ts';

/** The label-file names the bare layout looks for, in order. */
export const LABEL_FILES = ['labels.txt', 'index_to_name.json', 'imagenet_class_index.json'] as const;

/** One label per line; a trailing newline and CRLF endings are fine, blank lines in between are not. */
export function parseLabelsText(text: string, source: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw createError('LABELS_INVALID', `${source} holds no labels; expected one label per line`);
  const blank = lines.findIndex((l) => l.trim() === '');
  if (blank >= 0) {
    throw createError('LABELS_INVALID', `${source} line ${blank + 1} is blank; expected one label per line`);
  }
  return lines.map((l) => l.trim());
}

/**
 * An index → label map: `{"0": "cat"}`, `{"0": ["n02123045", "tabby"]}`
 * (TorchServe, Keras) and Hugging Face's id2label. Indices must run 0..N-1.
 */
export function parseIndexMap(value: unknown, source: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw createError('LABELS_INVALID', `${source} must be an object mapping class indices to names, like {"0": "cat"}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw createError('LABELS_INVALID', `${source} holds no labels`);
  const labels = new Array<string | undefined>(entries.length);
  for (const [key, raw] of entries) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= entries.length) {
      throw createError('LABELS_INVALID', `${source} has key "${key}"; expected class indices 0 to ${entries.length - 1}`);
    }
    let name: unknown = raw;
    if (Array.isArray(raw)) name = raw.length === 2 ? raw[1] : undefined;
    if (typeof name !== 'string' || name === '') {
      throw createError('LABELS_INVALID', `${source} entry "${key}" must be a name or a [wnid, name] pair`);
    }
    labels[index] = name;
  }
  return labels as string[];
}

/** Parse a labels file by its name: `.txt` is one per line, `.json` an index map or a plain array. */
export function parseLabelsFile(text: string, fileName: string): string[] {
  if (!fileName.endsWith('.json')) return parseLabelsText(text, fileName);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw createError('LABELS_INVALID', `${fileName} is not valid JSON: ${(err as Error).message}`);
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0 || !parsed.every((l) => typeof l === 'string' && l !== '')) {
      throw createError('LABELS_INVALID', `${fileName} must be a non-empty array of label strings`);
    }
    return parsed as string[];
  }
  return parseIndexMap(parsed, fileName);
}
