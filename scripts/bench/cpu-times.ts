/**
 * The machine's CPU time counters (the first line of /proc/stat), for
 * saying how busy the CPUs were during a measurement and how much of their
 * time the hypervisor gave to others while this VM wanted it ("steal"). On a
 * shared VM, a run is only comparable with runs that lost about as much:
 * after two runs whose HTTP throughput at 12 MP had halved on a code path
 * that had not changed, this machine showed 5-8% steal while it sat idle
 * (BENCHMARKS.md, runs 13 and 14).
 */
import { readFileSync } from 'node:fs';

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
