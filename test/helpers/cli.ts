/** Run the CLI in-process, capturing what it prints and its exit code. */
import { runCli } from '../../src/cli/main.ts';

export async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}
