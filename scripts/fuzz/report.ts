/**
 * What a fuzz run found: the types fuzz() returns and the summary the
 * command line prints.
 */
import path from 'node:path';
import type { Family } from './cases.ts';

export interface Violation {
  /** The case's index, or the last index before a failed checkpoint. */
  index: number;
  description: string;
  reason: string;
  /** Files holding the offending request(s). */
  saved: string[];
  /** The cases that reproduce it: the one case, or for a checkpoint or the exit every case up to it (RSS and crashes can build up). */
  replay: { start: number; count: number } | null;
}

export interface FuzzReport {
  seed: number;
  start: number;
  /** Cases sent (fewer than asked when it stopped at a violation). */
  sent: number;
  /** Accepted outcomes by status and code ("200", "422 CORRUPT_IMAGE"); malformed-HTTP cases under their own keys. */
  outcomes: Record<string, number>;
  families: Partial<Record<Family, number>>;
  /** Malformed-HTTP cases the server closed without answering, by how the connection ended. */
  closes: Record<string, number>;
  violations: Violation[];
  /** Cases run before the RSS baseline was taken (after the seed images). */
  warmupCases: number;
  baselineRssMB: number | null;
  rssBoundMB: number | null;
  /** Highest RSS sampled (every 100 ms) after the warm-up. */
  peakRssMB: number | null;
  /** The server's own high-water mark (VmHWM), start-up included. */
  serverHwmMB: number | null;
  healthChecks: number;
  healthMaxMs: number;
  elapsedMs: number;
  /** How the spawned server exited on SIGTERM. */
  serverExit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** The end-of-run summary, as printed by the command line. */
export function formatReport(r: FuzzReport): string {
  const lines = [`fuzz: seed ${r.seed}, cases ${r.start}..${r.start + r.sent - 1} (${r.sent} sent) in ${(r.elapsedMs / 1000).toFixed(1)} s`];
  lines.push(`  families: ${Object.entries(r.families).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push('  outcomes:');
  for (const [k, v] of Object.entries(r.outcomes).sort((a, b) => b[1] - a[1])) lines.push(`    ${String(v).padStart(6)}  ${k}`);
  const closes = Object.entries(r.closes);
  lines.push(closes.length === 0 ? '  closed without an answer: none' : '  closed without an answer (malformed HTTP only; allowed):');
  for (const [k, v] of closes) lines.push(`    ${String(v).padStart(6)}  ${k}`);
  const mb = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(0)} MB`);
  lines.push(`  server RSS: baseline ${mb(r.baselineRssMB)} after the warm-up (${r.warmupCases} cases), peak ${mb(r.peakRssMB)}, bound ${mb(r.rssBoundMB)}; VmHWM ${mb(r.serverHwmMB)} (start-up included)`);
  lines.push(`  /healthz: ${r.healthChecks} checks, slowest ${r.healthMaxMs} ms`);
  if (r.serverExit) lines.push(`  server exit on SIGTERM: ${r.serverExit.code ?? r.serverExit.signal}`);
  lines.push(`  violations: ${r.violations.length}`);
  for (const v of r.violations) {
    lines.push(`    case ${v.index}: ${v.reason}`, `      input: ${v.description}`);
    if (v.saved.length > 0) lines.push(`      saved: ${v.saved.length > 2 ? `${v.saved.length} files in ${path.dirname(v.saved[0]!)}` : v.saved.join(', ')}`);
    if (v.replay) lines.push(`      replay: npx tsx scripts/fuzz.ts --seed ${r.seed} --start ${v.replay.start} --count ${v.replay.count}`);
  }
  return lines.join('\n');
}
