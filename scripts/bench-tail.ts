// Where the slowest requests at concurrency 1 spend their time: `npm run bench:tail -- [photo] [count]` (defaults:
// test/fixtures/photo-astronaut-224.png, 1500 requests). One `imgcls serve` (as npm start runs it), one keep-alive
// connection, requests one after another, after 50 of warm-up. Prints p50 and p99 and, for the slowest 1%, the
// server's own `timing` (decode, queue, inference) and the time outside it. Needs `npm run build`.
import http from 'node:http';
import { percentile } from './bench/drive.ts';
import type { Timing } from '../src/server/inference.ts';
import { imageUpload, multipartBody, startServer } from './bench/http.ts';

const photo = process.argv[2] ?? 'test/fixtures/photo-astronaut-224.png';
const n = Number(process.argv[3] ?? 1500);
const server = await startServer([]);
const { body, contentType } = multipartBody(imageUpload(photo));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const url = new URL('/predict', server.url);
const one = () =>
  new Promise<{ ms: number; t: Timing }>((resolve, reject) => {
    const began = performance.now();
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (s += c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`POST /predict answered ${res.statusCode}: ${s}`));
        else resolve({ ms: performance.now() - began, t: (JSON.parse(s) as { timing: Timing }).timing });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
const rows: { ms: number; t: Timing }[] = [];
try {
  for (let i = 0; i < 50; i++) await one();
  for (let i = 0; i < n; i++) rows.push(await one());
} finally {
  agent.destroy();
  await server.stop();
}
const sorted = [...rows].sort((a, b) => a.ms - b.ms);
const ms = sorted.map((r) => r.ms);
const [p50, p99] = [percentile(ms, 50), percentile(ms, 99)];
console.log(`p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, p99/p50 ${(p99 / p50).toFixed(2)}`);
const median = (k: keyof Timing) => percentile(rows.map((r) => r.t[k]).sort((a, b) => a - b), 50).toFixed(1);
console.log('server medians:', (['decode_ms', 'queue_ms', 'inference_ms', 'total_ms'] as const).map((k) => `${k} ${median(k)}`).join(', '));
console.log('slowest 1%:');
for (const r of sorted.slice(-Math.ceil(n / 100))) console.log(r.ms.toFixed(1), JSON.stringify(r.t), 'outside the server', (r.ms - r.t.total_ms).toFixed(1));
