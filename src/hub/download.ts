/**
 * One file, downloaded so that an interruption costs only what was not yet
 * received: bytes go to `FILE.part`, the next attempt asks for the rest with
 * `Range`, and the file gets its name only once its size and checksums match.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { createError } from '../errors.ts';
import { networkError, openUrl, type HttpSettings, type Opened } from './http.ts';
import { shownUrl } from './ref.ts';

/** What the file must be; any field may be unknown. */
export interface Expected {
  size?: number;
  sha256?: string;
  /** Git's blob id: sha1 of `blob <size>\0<bytes>` (small files on the hub). */
  gitSha1?: string;
}

/** Told how a file's download goes, for a progress bar. */
export interface FileProgress {
  start(file: string, total: number | undefined, resumedFrom: number): void;
  advance(bytes: number): void;
  /** The file is finished: verified (true), or interrupted or rejected (false). */
  done(ok: boolean): void;
}

export interface DownloadRequest {
  url: URL;
  /** The final path; bytes go to `${dest}.part` until verified. */
  dest: string;
  /** The file as messages name it, e.g. `onnx/model.onnx of hf:Xenova/resnet-50`. */
  label: string;
  expected: Expected;
  http: HttpSettings;
  /** Fill in what `expected` lacks from the first hop's headers (the hub's X-Linked-Size, X-Linked-Etag). */
  fromHeaders?: (first: Headers) => Expected;
  /** The error for a non-2xx answer (default DOWNLOAD_FAILED naming the status). */
  statusError?: (status: number, opened: Opened) => Error;
  progress?: FileProgress;
}

export interface Downloaded {
  size: number;
  sha256: string;
}

const fileSize = async (p: string): Promise<number | null> => {
  try {
    return (await stat(p)).size;
  } catch {
    return null;
  }
};

interface Hashes {
  sha256: Hash;
  sha1: Hash | null;
}

/** Hashes for a file of `size` bytes; git's blob id needs the size up front. */
function newHashes(expected: Expected): Hashes {
  const sha1 = expected.gitSha1 !== undefined && expected.size !== undefined ? createHash('sha1').update(`blob ${expected.size}\0`) : null;
  return { sha256: createHash('sha256'), sha1 };
}

async function hashFile(file: string, hashes: Hashes): Promise<void> {
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hashes.sha256.update(chunk);
    hashes.sha1?.update(chunk);
  }
}

/** The mismatch, or null when `size` and the hashes agree with `expected`. */
function mismatch(label: string, expected: Expected, size: number, sha256: string, sha1: string | null): string | null {
  if (expected.size !== undefined && size !== expected.size) return `${label} is ${size} bytes but the source says ${expected.size}`;
  if (expected.sha256 !== undefined && sha256 !== expected.sha256.toLowerCase()) return `${label} has sha256 ${sha256} but the source says ${expected.sha256}`;
  if (sha1 !== null && expected.gitSha1 !== undefined && sha1 !== expected.gitSha1.toLowerCase()) return `${label} has git blob id ${sha1} but the source says ${expected.gitSha1}`;
  return null;
}

/** Whether a finished file on disk matches; used to skip files an earlier attempt completed. */
async function alreadyThere(file: string, label: string, expected: Expected): Promise<Downloaded | null> {
  const size = await fileSize(file);
  if (size === null || (expected.size === undefined && expected.sha256 === undefined)) return null;
  // The size is free to check; hashing a wrong-sized file would only confirm it is wrong.
  if (expected.size !== undefined && size !== expected.size) {
    await rm(file, { force: true });
    return null;
  }
  const hashes = newHashes(expected);
  await hashFile(file, hashes);
  const sha256 = hashes.sha256.digest('hex');
  if (mismatch(label, expected, size, sha256, hashes.sha1?.digest('hex') ?? null) === null) return { size, sha256 };
  await rm(file, { force: true });
  return null;
}

const merge = (a: Expected, b: Expected): Expected => ({ size: a.size ?? b.size, sha256: a.sha256 ?? b.sha256, gitSha1: a.gitSha1 ?? b.gitSha1 });

/** `bytes 100-199/200` → {start: 100, total: 200}. */
function contentRange(value: string | null): { start: number; total: number | undefined } | null {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m ? { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) } : null;
}

/**
 * Download `request.url` to `request.dest`, resuming a `.part` left by an
 * earlier attempt, and verify it.
 * @throws ImgclsError DOWNLOAD_FAILED when the transfer breaks (the `.part`
 *   stays, for the next attempt to resume); CHECKSUM_MISMATCH when the bytes
 *   are not what the source said (the `.part` is deleted); whatever
 *   `statusError` returns for a non-2xx answer; URL_NOT_ALLOWED from openUrl.
 */
export async function downloadFile(request: DownloadRequest): Promise<Downloaded> {
  const { dest, label } = request;
  const done = await alreadyThere(dest, label, request.expected);
  if (done) return done;
  const part = `${dest}.part`;
  let have = (await fileSize(part)) ?? 0;
  if (request.expected.size !== undefined && have > request.expected.size) {
    await rm(part, { force: true });
    have = 0;
  }

  let opened = await openUrl(request.url, request.http, { from: have });
  let status = opened.response.status;
  let range = contentRange(opened.response.headers.get('content-range'));
  // 416: the .part is as long as the file or longer; 206 from elsewhere, or 200: the server ignored Range. Start again.
  if (have > 0 && (status === 416 || status === 200 || (status === 206 && range?.start !== have))) {
    opened.close();
    await rm(part, { force: true });
    have = 0;
    opened = await openUrl(request.url, request.http);
    status = opened.response.status;
    range = contentRange(opened.response.headers.get('content-range'));
  }
  if (status !== 200 && status !== 206) {
    opened.close();
    throw request.statusError?.(status, opened) ?? createError('DOWNLOAD_FAILED', `${shownUrl(opened.url)} answered ${status}; expected the file (${label})`);
  }

  const expected = request.fromHeaders ? merge(request.expected, request.fromHeaders(opened.first)) : request.expected;
  const length = Number(opened.response.headers.get('content-length') ?? NaN);
  const total = expected.size ?? (status === 206 ? range?.total : Number.isFinite(length) ? length : undefined);
  const hashes = newHashes(expected);
  if (have > 0) await hashFile(part, hashes);
  request.progress?.start(label, total, have);

  const handle = await open(part, have > 0 ? 'a' : 'w');
  let size = have;
  try {
    for await (const chunk of opened.response.body ?? []) {
      opened.touch();
      await handle.write(chunk);
      hashes.sha256.update(chunk);
      hashes.sha1?.update(chunk);
      size += chunk.length;
      request.progress?.advance(chunk.length);
    }
    await handle.sync();
  } catch (err) {
    request.progress?.done(false);
    const cause = networkError(err, opened.url);
    throw createError('DOWNLOAD_FAILED', `${interrupted(label, size, total)} (${cause.message}); run the same command again to resume`, err);
  } finally {
    opened.close();
    await handle.close();
  }
  if (total !== undefined && size < total) {
    request.progress?.done(false);
    throw createError('DOWNLOAD_FAILED', `${interrupted(label, size, total)}; run the same command again to resume`);
  }

  const sha256 = hashes.sha256.digest('hex');
  const wrong = mismatch(label, expected, size, sha256, hashes.sha1?.digest('hex') ?? null);
  if (wrong !== null) {
    request.progress?.done(false);
    await rm(part, { force: true });
    throw createError('CHECKSUM_MISMATCH', `${wrong}; the download was discarded`);
  }
  await rename(part, dest);
  request.progress?.done(true);
  return { size, sha256 };
}

const interrupted = (label: string, size: number, total: number | undefined): string =>
  `The download of ${label} was interrupted after ${size}${total === undefined ? '' : ` of ${total}`} bytes`;
