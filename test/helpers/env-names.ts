/** Which IMGCLS_* variables imgcls reads, for the checks on container and deployment files. */
import assert from 'node:assert/strict';
import { OTHER_ENV, SERVE_ENV } from '../../src/cli/env.ts';

/** Fails when `name` is an IMGCLS_* variable imgcls does not read (a serve flag's or one any command reads); other names pass. */
export function checkEnvName(name: string, where: string): void {
  if (name.startsWith('IMGCLS_')) assert.ok(SERVE_ENV.has(name) || OTHER_ENV.has(name), `${where}: imgcls reads no variable ${name}`);
}
