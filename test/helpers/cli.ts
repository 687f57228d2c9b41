/** Run the CLI in-process, capturing what it prints and its exit code. */
import { runCli } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  out: string[];
  err: string[];
}

/** The CLI with `env` as its environment (serve turns IMGCLS_* variables from it into flags). */
export async function cliWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, env);
  return { code, out, err };
}

export function cli(...args: string[]): Promise<CliResult> {
  return cliWithEnv(process.env, ...args);
}
