/**
 * The machine's CPU time counters (the first line of /proc/stat), for
 * saying how busy the CPUs were during a measurement and how much of their
 * time the hypervisor gave to others while this VM wanted it ("steal"). On a
 * shared VM, a run is only comparable with runs that lost about as much:
 * after two runs whose HTTP throughput at 12 MP had halved on a code path
 * that had not changed, this machine showed 5-8% steal while it sat idle
 * (BENCHMARKS.md, runs 13 and 14).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface CpuTimes {
  total: number;
  /** Idle and waiting for I/O. */
  idle: number;
  steal: number;
}

/** The machine's CPU times so far, in ticks; null where /proc/stat is missing (not Linux). */
export function cpuTimes(): CpuTimes | null {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  } catch {
    return null;
  }
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const fields = line?.trim().split(/\s+/).slice(1, 9).map(Number);
  if (!fields || fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return null;
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3]! + fields[4]!, steal: fields[7]! };
}

/** Steal between two readings, as a percentage of all CPU time; null when either is unknown or no time passed. */
export function stealPercent(from: CpuTimes | null, to: CpuTimes | null): number | null {
  if (!from || !to || to.total <= from.total) return null;
  return (100 * (to.steal - from.steal)) / (to.total - from.total);
}

// USER_HZ: /proc's clock ticks are 1/100 s on Linux.
const TICK_MS = 10;

/** The fields of a /proc .../stat line after the process name (which may hold spaces): state first, utime 12th. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU ms so far of every thread of `pid` (default: this process), by thread id, with the kernel's name for it. */
export function threadTimes(pid: number | 'self' = 'self'): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const fields = statFields(stat);
    out.set(Number(tid), { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS });
  }
  return out;
}

/** CPU ms so far of this process's child processes that have exited and been waited for (cutime + cstime): wrk's, once it has ended. */
export function exitedChildrenMs(): number {
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}
