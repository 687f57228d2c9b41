/**
 * `--save-uploads`: each classified image is stored re-encoded under a
 * generated name, with a JSON sidecar holding its predictions, so users can
 * build a dataset from real traffic. The client's filename never reaches the
 * file system.
 */
import { randomUUID } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Prediction } from '../engine/postprocess.ts';
import { reencodeImage } from '../image/decode.ts';
import { makeDirectory } from '../make-directory.ts';

export interface UploadRecord {
  model: string;
  predictions: readonly Prediction[];
  route: string;
}

/** A sortable, unguessable name: time first so `ls` is chronological. */
function generatedName(now: Date): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomUUID()}`;
}

/** Write through a temporary name so a reader never sees half a file. */
async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, data, { flag: 'wx' });
  await rename(temp, file);
}

/**
 * Store one image and its sidecar, under generated names.
 * @throws ImgclsError when the image cannot be re-encoded, or the file system's error.
 */
export async function saveUpload(dir: string, bytes: Uint8Array, record: UploadRecord, maxPixels?: number): Promise<void> {
  const image = await reencodeImage(bytes, { maxPixels });
  await makeDirectory(dir);
  const now = new Date();
  const base = path.join(dir, generatedName(now));
  const file = `${base}.${image.extension}`;
  await writeAtomic(file, image.data);
  const sidecar = {
    image: path.basename(file),
    received_at: now.toISOString(),
    model: record.model,
    route: record.route,
    width: image.width,
    height: image.height,
    bytes: bytes.length,
    predictions: record.predictions,
  };
  await writeAtomic(`${base}.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
}
