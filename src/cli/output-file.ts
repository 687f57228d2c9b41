/**
 * A results file that only appears complete. Lines are appended to
 * `FILE.partial` as they come (so memory stays flat on huge runs), and the
 * file is renamed to FILE when the run finishes. A crashed or killed run
 * leaves at most a `.partial`, never a FILE that looks done, which is what a
 * batch job's "skip shards whose output exists" logic relies on.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createError, type ImgclsError } from '../errors.ts';
import { makeDirectory } from '../make-directory.ts';

function cannotWrite(file: string, err: unknown): ImgclsError {
  return createError('FILE_UNREADABLE', `Cannot write --output ${file}: ${(err as Error).message}`, err);
}

export class OutputFile {
  private constructor(
    readonly file: string,
    private readonly partial: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Create FILE's folder if missing and open `FILE.partial`, truncating a leftover one.
   * @throws FILE_UNREADABLE when either cannot be done.
   */
  static async open(file: string): Promise<OutputFile> {
    const partial = `${file}.partial`;
    try {
      await makeDirectory(path.dirname(file));
      return new OutputFile(file, partial, await open(partial, 'w'));
    } catch (err) {
      throw cannotWrite(file, err);
    }
  }

  /** Each line, with its newline. @throws FILE_UNREADABLE. */
  async writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** @throws FILE_UNREADABLE when the write fails (a full disk, say). */
  async write(text: string): Promise<void> {
    try {
      await this.handle.write(text);
    } catch (err) {
      throw cannotWrite(this.file, err);
    }
  }

  /** Flush, close and rename to FILE, replacing an earlier one. @throws FILE_UNREADABLE. */
  async commit(): Promise<void> {
    try {
      // Synced before the rename, so that after a power cut FILE is whole or absent, never truncated.
      await this.handle.sync();
      await this.handle.close();
      await rename(this.partial, this.file);
    } catch (err) {
      throw cannotWrite(this.file, err);
    }
  }

  /** Close and delete `FILE.partial`: the run failed as a whole and must be run again. Never throws, so the run's own error is the one reported. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.partial, { force: true }).catch(() => undefined);
  }
}
