/**
 * `source.json`: where a pulled model came from, written into its package
 * next to the files the loader reads (which ignores it). The store uses it
 * to find `hf:org/repo@rev` again without the network, and `imgcls models`
 * to show the origin.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

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
  /** URL: the model and labels URLs (or the labels file's path). */
  url?: string;
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

/** One line for `imgcls models`: `hf:Xenova/resnet-50 (main @ 1a2b3c4, quantized)`. */
export function describeSource(source: PulledSource): string {
  if (source.kind === 'url') return source.url ?? source.source;
  const details = [source.commit ? `${source.revision} @ ${source.commit.slice(0, 7)}` : source.revision, source.variant].filter(Boolean);
  return `hf:${source.repo} (${details.join(', ')})`;
}
