/**
 * `source.json`: where a pulled model came from, written into its package
 * next to the files the loader reads (which ignores it). The store uses it
 * to find `hf:org/repo@rev` again without the network, and `imgcls models`
 * to show the origin.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HubRef } from './ref.ts';

export const SOURCE_FILE = 'source.json';

export interface SourceFile {
  /** Path inside the package. */
  path: string;
  /** Path at the source, when it differs (a variant stored as onnx/model.onnx). */
  from?: string;
  size: number;
  sha256: string;
}

export interface PulledSource {
  kind: 'huggingface' | 'url';
  /** `hf:org/repo[@rev]` or the model URL, as given. */
  source: string;
  /** Hugging Face: the endpoint, repository, revision asked for, the commit it resolved to, and the variant. */
  endpoint?: string;
  repo?: string;
  revision?: string;
  commit?: string | null;
  variant?: string | null;
  /** URL: the labels URL (or the labels file's path); the model's URL is `source`. */
  labels?: string;
  files: SourceFile[];
  pulled_at: string;
}

/** The source record of a package, or null for a model that was not pulled (or a damaged record). */
export async function readSource(dir: string): Promise<PulledSource | null> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, SOURCE_FILE), 'utf8')) as PulledSource;
    return parsed && (parsed.kind === 'huggingface' || parsed.kind === 'url') && Array.isArray(parsed.files) ? parsed : null;
  } catch {
    return null;
  }
}

/** Whether `source` was pulled from `ref`'s repository (at any revision), comparing names without case. */
export function isFromRepo(source: PulledSource, ref: HubRef): boolean {
  return source.kind === 'huggingface' && source.repo?.toLowerCase() === ref.repo.toLowerCase();
}

/** One line for `imgcls models`: `hf:Xenova/resnet-50 (main @ 1a2b3c4, quantized)`. */
export function describeSource(source: PulledSource): string {
  if (source.kind === 'url') return source.source;
  const details = [source.commit ? `${source.revision} @ ${source.commit.slice(0, 7)}` : source.revision, source.variant].filter(Boolean);
  return `hf:${source.repo} (${details.join(', ')})`;
}
