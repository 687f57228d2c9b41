/**
 * The `imgcls` command. `runCli` parses, dispatches and returns an exit code;
 * only `bin/imgcls.js` touches `process.exit`. Catalogued errors print their
 * message; anything else prints its stack, since it is a bug.
 */
import { defineCommand, renderUsage, runCommand, type CommandDef } from 'citty';
import { isImgclsError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { convertCommand } from './convert.ts';
import { envFlags } from './env.ts';
import { evaluateCommand } from './evaluate.ts';
import { inspectCommand } from './inspect.ts';
import { modelsCommand } from './models.ts';
import { processIO, type CliIO, type CommandData } from './io.ts';
import { predictCommand } from './predict.ts';
import { pullCommand } from './pull.ts';
import { rmCommand } from './rm.ts';
import { serveArgs, serveCommand } from './serve.ts';
import { trainCommand } from './train.ts';

const subCommands: Record<string, CommandDef<any>> = {
  predict: predictCommand,
  inspect: inspectCommand,
  convert: convertCommand,
  models: modelsCommand,
  pull: pullCommand,
  rm: rmCommand,
  serve: serveCommand,
  evaluate: evaluateCommand,
  train: trainCommand,
};

export const mainCommand = defineCommand({
  meta: { name: 'imgcls', version: VERSION, description: 'Image classification: serve models over HTTP, predict, evaluate, train, inspect, convert, pull and list models' },
  subCommands,
});

export async function runCli(rawArgs: readonly string[], io: CliIO = processIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const name = rawArgs.find((a) => !a.startsWith('-'));
  const sub = name === undefined ? undefined : subCommands[name];
  const wantsHelp = rawArgs.includes('--help') || rawArgs.includes('-h');
  if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
    io.out(VERSION);
    return 0;
  }
  if (wantsHelp || rawArgs.length === 0) {
    io.out(sub ? await renderUsage(sub, mainCommand) : await renderUsage(mainCommand));
    return rawArgs.length === 0 ? 2 : 0;
  }
  if (!sub) {
    io.err(`imgcls: unknown command "${name}"; commands are ${Object.keys(subCommands).join(', ')} (imgcls --help)`);
    return 2;
  }
  const data: CommandData = { io, exitCode: 0 };
  try {
    let args = rawArgs.filter((a) => a !== name);
    if (sub === serveCommand) {
      // The server also takes its settings from IMGCLS_* variables (containers); say which, since a bad value's error names the flag.
      const fromEnv = envFlags(serveArgs, args, env);
      if (fromEnv.used.length > 0) io.err(`imgcls: from the environment: ${fromEnv.used.join(' ')}`);
      if (fromEnv.ignored.length > 0) io.err(`imgcls: ignored from the environment: ${fromEnv.ignored.join('; ')}`);
      args = [...fromEnv.args, ...args];
    }
    // Dispatch ourselves: citty does not hand `data` on to subcommands.
    await runCommand(sub!, { rawArgs: args, data });
    return data.exitCode;
  } catch (err) {
    if (isImgclsError(err)) {
      io.err(`imgcls: ${err.message}`);
      return err.code === 'INVALID_OPTION' ? 2 : 1;
    }
    if (err instanceof Error && err.name === 'CLIError') {
      io.err(`imgcls: ${err.message.replace(/\x1b\[[0-9;]*m/g, '')} (see imgcls ${name ?? ''} --help)`);
      return 2;
    }
    io.err(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
}
