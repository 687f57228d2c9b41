/**
 * What `imgcls predict` writes per file, in each `--format`: `table` for
 * people (today's output), `jsonl` (one JSON object per file per line) and
 * `csv` (one row per prediction), the last two for pipelines and for
 * concatenating the outputs of sharded runs.
 */
import type { ClassifyResult } from '../engine/classifier.ts';
import { createError } from '../errors.ts';
import { predictionTable } from './format.ts';
import type { CliIO } from './io.ts';
import { parseChoice } from './options.ts';

const OUTPUT_FORMATS = ['table', 'jsonl', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * The format `--format` and `--json` ask for; `--json` is the older spelling of `--format jsonl`.
 * @throws INVALID_OPTION for an unknown format, or `--json` with another format.
 */
export function outputFormat(format: string | undefined, json: boolean | undefined): OutputFormat {
  const chosen = format === undefined ? undefined : parseChoice('format', format, OUTPUT_FORMATS);
  if (json && chosen !== undefined && chosen !== 'jsonl') {
    throw createError('INVALID_OPTION', `--json is short for --format jsonl, so it cannot be combined with --format ${chosen}`);
  }
  return chosen ?? (json ? 'jsonl' : 'table');
}

const CSV_COLUMNS = ['file', 'rank', 'label', 'index', 'score', 'error', 'message'] as const;

/** RFC 4180: a field holding a comma, a quote or a line break is quoted, with its quotes doubled. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(fields: readonly (string | number)[]): string {
  return fields.map(csvField).join(',');
}

/** The lines a format starts with, before any file: CSV's header row, nothing for the others. */
export function outputHeader(format: OutputFormat): string[] {
  return format === 'csv' ? [csvRow(CSV_COLUMNS)] : [];
}

/**
 * One file's result as text (several lines for table and CSV, no trailing
 * line break). Scores are printed in full, as JavaScript prints the number.
 */
export function formatResult(format: OutputFormat, file: string, result: ClassifyResult): string {
  if (format === 'jsonl') {
    return JSON.stringify(result.ok ? { file, predictions: result.predictions } : { file, error: result.error.code, message: result.error.message });
  }
  if (format === 'csv') {
    if (!result.ok) return csvRow([file, '', '', '', '', result.error.code, result.error.message]);
    return result.predictions.map((p, i) => csvRow([file, i + 1, p.label, p.index, p.score, '', ''])).join('\n');
  }
  return result.ok ? predictionTable(file, result.predictions) : `${file}: ${result.error.code}: ${result.error.message}`;
}

/** Where the result lines go: stdout, or an OutputFile that appears only when complete. */
export interface ResultOutput {
  writeLines(lines: readonly string[]): Promise<void>;
  /** The run finished (failed images included): keep what was written. */
  commit(): Promise<void>;
  /** The run failed as a whole. */
  discard(): Promise<void>;
}

/** Lines straight to stdout, where there is nothing to commit or discard. */
export function stdoutOutput(io: CliIO): ResultOutput {
  return {
    writeLines: async (lines) => lines.forEach((l) => io.out(l)),
    commit: async () => undefined,
    discard: async () => undefined,
  };
}
