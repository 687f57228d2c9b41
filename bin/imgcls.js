#!/usr/bin/env node
import { runCli } from '../dist/cli/main.js';

// `imgcls ... | head` closes the pipe early: stop quietly, as Unix tools do, instead of crashing on EPIPE.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
