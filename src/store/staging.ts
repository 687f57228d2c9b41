/**
 * Where pulls happen: `<store>/models/.staging/<name>/`, on the store's
 * filesystem so the finished package can be renamed into place in one step.
 * listModels skips dot-entries, so nothing here is ever a model. A staging
 * directory outlives a failed attempt only when it can be resumed: it records
 * what it is for, and a pull of something else under the name starts afresh.
 * A lock file keeps two processes from pulling into one name at once.
 */
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createError } from '../errors.ts';
import { makeDirectory } from '../make-directory.ts';
import { replaceDirectory } from './write-directory.ts';

const STAGING = '.staging';
const KEY_FILE = '.pull.json';

const stagingRoot = (modelsDir: string): string => join(modelsDir, STAGING);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take `<name>.lock`, or take over one whose process is gone. @throws ImgclsError STORE_BUSY. */
async function lock(root: string, name: string): Promise<() => Promise<void>> {
  const file = join(root, `${name}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(file, 'utf8').catch(() => ''));
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw createError('STORE_BUSY', `Another imgcls (pid ${pid}) is pulling "${name}" into this store; wait for it, or delete ${file} if that process is stuck`);
      }
      await rm(file, { force: true });
    }
  }
  throw createError('STORE_BUSY', `Could not lock ${file}; another imgcls is pulling "${name}"`);
}

export interface Staging {
  dir: string;
  /** Rename the staged package to `target`, replacing an older one there. */
  install(target: string): Promise<void>;
  /** Delete what was staged: for failures a retry cannot resume. */
  discard(): Promise<void>;
}

/**
 * Run `fn` with the staging directory for `name`, locked. `key` says what is
 * being pulled; files left by an attempt with another key are deleted first.
 */
export async function withStaging<T>(modelsDir: string, name: string, key: string, fn: (staging: Staging) => Promise<T>): Promise<T> {
  const root = stagingRoot(modelsDir);
  await makeDirectory(root);
  const unlock = await lock(root, name);
  try {
    const dir = join(root, name);
    const previous = await readFile(join(dir, KEY_FILE), 'utf8').catch(() => null);
    if (previous !== key) await rm(dir, { recursive: true, force: true });
    await makeDirectory(dir);
    await writeFile(join(dir, KEY_FILE), key);
    const staging: Staging = {
      dir,
      discard: () => rm(dir, { recursive: true, force: true }),
      install: async (target) => {
        await rm(join(dir, KEY_FILE), { force: true });
        await replaceDirectory(dir, target, root);
      },
    };
    return await fn(staging);
  } finally {
    await unlock();
  }
}
