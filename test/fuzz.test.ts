/**
 * The seeded fuzzer (scripts/fuzz.ts): its cases are reproducible, its
 * checker refuses what the server must never answer, and a few hundred
 * mutated requests against a real `imgcls serve` (the colour model, so it is
 * quick) give no violation. Longer runs are by hand: `npx tsx
 * scripts/fuzz.ts --count 3000 --seed 1`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fuzz } from '../scripts/fuzz.ts';
import { generateCase, loadSeeds, type FuzzCase } from '../scripts/fuzz/cases.ts';
import { checkOutcome } from '../scripts/fuzz/check.ts';
import { formatReport } from '../scripts/fuzz/report.ts';
import type { Outcome } from '../scripts/fuzz/send.ts';
import { FIXTURES } from './helpers/server.ts';

const seeds = loadSeeds(FIXTURES);
const COLOUR_MODEL = path.join(FIXTURES, 'models', 'hf-colour');

function digest(seed: number, count: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) {
    const c = generateCase(seed, i, seeds);
    hash.update(JSON.stringify([c.family, c.path, c.headers, c.description])).update(c.raw ?? c.body);
  }
  return hash.digest('hex');
}

describe('fuzz cases', () => {
  test('the same seed gives the same bytes; another seed, others', () => {
    assert.equal(digest(7, 200), digest(7, 200));
    assert.notEqual(digest(7, 200), digest(8, 200));
  });

  test('a case can be regenerated alone, without the ones before it', () => {
    const alone = generateCase(7, 150, seeds);
    for (let i = 0; i < 150; i++) generateCase(7, i, seeds);
    assert.deepEqual(generateCase(7, 150, seeds), alone);
  });

  test('every family and many mutations occur in a few hundred cases', () => {
    const families = new Set<string>();
    const mutations = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const c = generateCase(3, i, seeds);
      families.add(c.family);
      for (const m of c.description.matchAll(/\b(bitflip|overwrite|delete|duplicate|insert|truncate|splice|jpeg SOF|png IHDR|webp|gif|CRC fixed|__proto__|data: URL|boundary)\b/g)) mutations.add(m[1]!);
    }
    assert.deepEqual([...families].sort(), ['framing', 'json', 'multipart', 'raw']);
    assert.ok(mutations.size >= 12, `only ${[...mutations].join(', ')}`);
  });
});

describe('fuzz checker', () => {
  const plain: FuzzCase = { index: 0, family: 'raw', description: 'test', path: '/predict', headers: {}, body: new Uint8Array() };
  const malformed: FuzzCase = { ...plain, family: 'framing', raw: new Uint8Array() };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Outcome => ({
    kind: 'response',
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  });
  const accepted = (c: FuzzCase, o: Outcome) => checkOutcome(c, o).ok;

  test('accepts catalogued errors with their status, predictions, and 503 with Retry-After', () => {
    assert.ok(accepted(plain, json(422, { error: 'CORRUPT_IMAGE', message: 'The image data is corrupt or truncated: VipsJpeg: premature end' })));
    assert.ok(accepted(plain, json(200, { model: 'm', predictions: [{ label: 'red', index: 0, score: 0.9 }] })));
    assert.ok(accepted(plain, json(200, { model: 'm', results: [{ predictions: [{ label: 'red', index: 0, score: 1 }] }, { error: 'CORRUPT_IMAGE', message: 'bad' }] })));
    assert.ok(accepted(plain, json(503, { error: 'OVERLOADED', message: 'busy' }, { 'retry-after': '1' })));
    assert.ok(accepted(malformed, { kind: 'reset', error: 'ECONNRESET' }));
  });

  test('refuses 500s, unknown codes, wrong statuses, stack traces, bad 200s and silent closes', () => {
    assert.ok(!accepted(plain, json(500, { error: 'INTERNAL_ERROR', message: 'Internal error' })));
    assert.ok(!accepted(plain, json(503, { error: 'OVERLOADED', message: 'busy' })), 'no Retry-After');
    assert.ok(!accepted(plain, json(400, { error: 'Bad Request', message: 'Client Error', statusCode: 400 })));
    assert.ok(!accepted(plain, json(400, { error: 'CORRUPT_IMAGE', message: 'status differs from the catalogue' })));
    assert.ok(!accepted(plain, json(422, { error: 'CORRUPT_IMAGE', message: 'boom\n    at decode (file:///app/dist/image/decode.js:12:7)' })));
    assert.ok(!accepted(plain, json(400, { error: 'INVALID_REQUEST' })), 'no message');
    assert.ok(!accepted(plain, json(200, { model: 'm' })), 'no predictions');
    assert.ok(!accepted(plain, { kind: 'response', status: 400, headers: { 'content-type': 'text/html' }, body: Buffer.from('<h1>400</h1>') }));
    assert.ok(!accepted(plain, { kind: 'reset', error: 'ECONNRESET' }));
    assert.ok(!accepted(plain, { kind: 'timeout' }));
  });
});

describe('fuzzing a real server', () => {
  // About 10 s on two cores: most of it the server's start and the warm-up.
  test('400 mutated requests: only catalogued answers, healthy, bounded, clean exit', async () => {
    const lines: string[] = [];
    const report = await fuzz({ count: 400, seed: 14, serveArgs: ['--model', COLOUR_MODEL], log: (l) => lines.push(l) });
    const summary = `${formatReport(report)}\n${lines.join('\n')}`;
    assert.deepEqual(report.violations, [], summary);
    assert.equal(report.sent, 400);
    assert.equal(report.serverExit?.code, 0, summary);
    assert.equal(report.healthChecks, 4);
    // Not vacuous: some images were classified and some refused as corrupt.
    assert.ok((report.outcomes['200'] ?? 0) > 0, summary);
    assert.ok((report.outcomes['422 CORRUPT_IMAGE'] ?? 0) > 0, summary);
    assert.ok(report.peakRssMB !== null && report.rssBoundMB !== null && report.peakRssMB <= report.rssBoundMB, summary);
  });
});
