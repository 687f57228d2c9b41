/**
 * Progress lines against a fake clock: terminal redraw throttling, the ETA
 * text, the plain (log) cadence with no control characters, and the final line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, Progress } from '../src/cli/progress.ts';

/** A Progress whose clock the test moves by hand, recording every write. */
function harness(total: number, tty: boolean, unit?: string) {
  const clock = { t: 1_000_000 };
  const writes: string[] = [];
  const progress = new Progress('extract', total, (text) => writes.push(text), { tty, now: () => clock.t, unit });
  const at = (ms: number) => {
    clock.t = 1_000_000 + ms;
  };
  return { progress, writes, at };
}

test('durations read m:ss, h:mm:ss from an hour, and --:-- when unknown', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(42), '0:42');
  assert.equal(formatDuration(59.6), '1:00');
  assert.equal(formatDuration(754), '12:34');
  assert.equal(formatDuration(3723), '1:02:03');
  assert.equal(formatDuration(NaN), '--:--');
  assert.equal(formatDuration(Infinity), '--:--');
});

test('a terminal line is redrawn in place with bar, percentage, count, rate and ETA', () => {
  const { progress, writes, at } = harness(2700, true);
  at(4000);
  progress.tick(1234, 'batch 39');
  // 1234 in 4 s is 308.5 img/s; 1466 left take 4.75 s.
  assert.deepEqual(writes, ['\rextract [#######.........]  45% 1234/2700 309 img/s ETA 0:05 batch 39\x1b[K']);
});

test('terminal redraws are throttled to one per 100 ms', () => {
  const { progress, writes, at } = harness(1000, true);
  at(10);
  progress.tick(); // the first tick always draws
  at(60);
  progress.tick();
  at(109);
  progress.tick();
  assert.equal(writes.length, 1);
  at(110);
  progress.tick();
  assert.equal(writes.length, 2);
  assert.match(writes[1]!, / 4\/1000 /);
  for (let ms = 111; ms < 210; ms++) {
    at(ms);
    progress.tick();
  }
  assert.equal(writes.length, 2);
  at(210);
  progress.tick();
  assert.equal(writes.length, 3);
});

test('the ETA is unknown before any time has passed, and long ones show hours', () => {
  const { progress, writes, at } = harness(100_000, true);
  progress.tick(5);
  assert.match(writes[0]!, /-- img\/s ETA --:--/);
  at(1000);
  progress.tick(5);
  // 10 img/s with 99,990 left: 9999 s.
  assert.match(writes[1]!, /10 img\/s ETA 2:46:39/);
});

test('plain lines come at each 10% or every 10 s, without control characters', () => {
  const { progress, writes, at } = harness(1000, false);
  for (let i = 1; i <= 99; i++) {
    at(i * 10);
    progress.tick();
  }
  assert.equal(writes.length, 0);
  at(1000);
  progress.tick(); // 10%
  assert.deepEqual(writes, ['extract  10% 100/1000 100 img/s ETA 0:09\n']);
  at(1500);
  progress.tick(50); // 15%: no new step
  assert.equal(writes.length, 1);
  // A stall: nothing new until 10 s after the last line.
  at(10_999);
  progress.tick();
  assert.equal(writes.length, 1);
  at(11_000);
  progress.tick();
  assert.equal(writes.length, 2);
  // A jump over several steps gives one line, not one per step.
  at(12_000);
  progress.tick(500);
  assert.equal(writes.length, 3);
  assert.ok(writes[2]!.startsWith('extract  65% 652/1000 '), writes[2]);
  for (const text of writes) {
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f]/);
    assert.ok(text.endsWith('\n') && !text.slice(0, -1).includes('\n'));
  }
});

test('done prints the final line with the elapsed time and a newline', () => {
  const tty = harness(2700, true);
  tty.at(500);
  tty.progress.tick(2700);
  tty.at(65_000);
  tty.progress.done('loss 0.31');
  assert.equal(tty.writes.at(-1), '\rextract [################] 100% 2700/2700 42 img/s in 1:05 loss 0.31\x1b[K\n');
  tty.progress.done();
  tty.progress.tick();
  assert.equal(tty.writes.length, 2);

  const plain = harness(3, false, 'epoch');
  plain.at(3_723_000);
  plain.progress.done();
  assert.deepEqual(plain.writes, ['extract   0% 0/3 -- epoch/s in 1:02:03\n']);
});

test('a total of 0 divides by nothing', () => {
  for (const tty of [true, false]) {
    const { progress, writes, at } = harness(0, tty);
    progress.tick(0);
    at(2000);
    progress.done();
    assert.ok(writes.length >= 1);
    for (const text of writes) assert.doesNotMatch(text, /NaN|Infinity/);
    assert.match(writes.at(-1)!, /100% 0\/0 -- img\/s in 0:02/);
  }
});
