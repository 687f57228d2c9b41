/** The CPU count that sizes the worker pool and the decode slots honours a container's CPU quota. */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { cgroupCpuLimit, cpusFromQuota, parseCpuMax, usableCpus } from '../src/engine/cpus.ts';

const files = (map: Record<string, string>) => (file: string) => {
  if (file in map) return map[file]!;
  throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
};

describe('usable CPUs', () => {
  test('cgroup v2 cpu.max: a quota rounds up, "max" is no limit', () => {
    assert.equal(parseCpuMax('200000 100000\n'), 2);
    assert.equal(parseCpuMax('150000 100000'), 2);
    assert.equal(parseCpuMax('50000 100000'), 1);
    assert.equal(parseCpuMax('max 100000'), null);
    assert.equal(parseCpuMax(''), null);
  });

  test('cgroup v1: -1 is no limit', () => {
    assert.equal(cpusFromQuota(-1, 100000), null);
    assert.equal(cpusFromQuota(400000, 100000), 4);
  });

  test('v2 first, then v1, else none', () => {
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '300000 100000' })), 3);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 1);
    assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), null);
    assert.equal(cgroupCpuLimit(files({})), null);
  });

  test('on this machine: at least 1, at most the cores, and the quota if there is one', () => {
    const n = usableCpus();
    assert.ok(n >= 1 && n <= availableParallelism());
    const quota = cgroupCpuLimit();
    if (quota !== null) assert.equal(n, Math.min(availableParallelism(), quota));
  });
});
