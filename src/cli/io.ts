/** Where a command writes. Tests pass their own to assert exact output without spawning a process. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** The context citty hands each command as `data`: the IO plus a way to report failure without throwing. */
export interface CommandData {
  io: CliIO;
  /** Set non-zero by a command that finished but had failures (some images failed). */
  exitCode: number;
}
