/**
 * How many CPUs this process may use. Node 20's availableParallelism()
 * counts the machine's cores and ignores a container's CPU limit, so a pod
 * limited to 2 CPUs on a 64-core node would start 64 inference workers (65 MB
 * each) and allow 64 full-size decodes at once. The cgroup quota, where one
 * is set, caps the count.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs a cgroup quota allows: `quota / period` rounded up, or null for no quota. */
export function cpusFromQuota(quota: number, period: number): number | null {
  if (!(quota > 0) || !(period > 0)) return null;
  return Math.max(1, Math.ceil(quota / period));
}

/** cgroup v2's `cpu.max`: "max 100000" (no limit) or "200000 100000". */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  return cpusFromQuota(Number(quota), Number(period ?? 100000));
}

function readOrNull(file: string, read: (file: string) => string): string | null {
  try {
    return read(file);
  } catch {
    return null;
  }
}

/** The quota of this process's cgroup (v2, else v1), or null when none is set or readable. */
export function cgroupCpuLimit(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number | null {
  const v2 = readOrNull('/sys/fs/cgroup/cpu.max', read);
  if (v2 !== null) return parseCpuMax(v2);
  const quota = readOrNull('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', read);
  const period = readOrNull('/sys/fs/cgroup/cpu/cpu.cfs_period_us', read);
  return quota === null || period === null ? null : cpusFromQuota(Number(quota), Number(period));
}

let cached: number | undefined;

/** The machine's cores, capped by the cgroup CPU quota. */
export function usableCpus(): number {
  cached ??= Math.max(1, Math.min(availableParallelism(), cgroupCpuLimit() ?? Infinity));
  return cached;
}
