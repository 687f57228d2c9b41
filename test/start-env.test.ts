/**
 * `npm start` sets glibc's allocator variables in front of `imgcls serve`,
 * and the benchmark and test servers start with the same ones
 * (scripts/lib/server-process.ts), so BENCHMARKS.md's memory figures are
 * those of a server started the documented way. `npm run bench` runs its
 * in-process level under them too, so that HTTP and in-process differ only
 * by the serving.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { START_ENV } from '../scripts/lib/server-process.ts';

const ROOT = path.join(import.meta.dirname, '..');
const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const assignments = (command: string) => Object.fromEntries([...command.matchAll(/(?:^|\s)([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));

test("npm start's variables are the ones benchmark servers start with, and the ones npm run bench runs under", () => {
  assert.deepEqual(assignments(scripts.start!), START_ENV);
  assert.match(scripts.start!, /node bin\/imgcls\.js serve$/);
  // The in-process level is compared with the server: both under the same allocator.
  assert.deepEqual(assignments(scripts.bench!), START_ENV);
});

test('the shell npm runs the start script with hands those variables to the server process', async () => {
  // The same command line with the server swapped for a process that prints its environment.
  const command = scripts.start!.replace('node bin/imgcls.js serve', `"${process.execPath}" -e "console.log(JSON.stringify(process.env))"`);
  const { stdout } = await promisify(execFile)('/bin/sh', ['-c', command], { env: { PATH: process.env.PATH } });
  const env = JSON.parse(stdout) as Record<string, string>;
  for (const [name, value] of Object.entries(START_ENV)) assert.equal(env[name], value, name);
});
