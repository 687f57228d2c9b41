// Where the slowest requests at concurrency 1 spend their time: `npm run bench:tail -- [photo] [count]` (defaults:
// test/fixtures/photo-astronaut-224.png, 1500 requests). One `imgcls serve` (as npm start runs it), one keep-alive
// connection, requests one after another, after 50 of warm-up. Prints p50 and p99 and, for the slowest 1%, the
// server's own `timing` (decode, queue, inference) and the time outside it. Needs `npm run build`.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { multipartBody } from './bench/http.ts';
import { startServer } from './lib/server-process.ts';
const photo = process.argv[2] ?? 'test/fixtures/photo-astronaut-224.png';
const n = Number(process.argv[3] ?? 1500);
const server = await startServer([]);
const { body, contentType } = multipartBody({ bytes: await readFile(photo), filename: photo.split('/').pop()!, contentType: photo.endsWith('.png') ? 'image/png' : 'image/jpeg' });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const url = new URL('/predict', server.url);
const one = () => new Promise<{ ms: number; t: Record<string, number> }>((resolve, reject) => {
  const began = performance.now();
  const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
    let s = ''; res.setEncoding('utf8'); res.on('data', (c) => (s += c)); res.on('end', () => resolve({ ms: performance.now() - began, t: JSON.parse(s).timing }));
  });
  req.on('error', reject); req.end(body);
});
for (let i = 0; i < 50; i++) await one();
const rows: { ms: number; t: Record<string, number> }[] = [];
for (let i = 0; i < n; i++) rows.push(await one());
await server.stop();
const sorted = [...rows].sort((a, b) => a.ms - b.ms);
const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
console.log('p50', p(0.5).ms.toFixed(1), p(0.5).t, 'p99', p(0.99).ms.toFixed(1), 'ratio', (p(0.99).ms / p(0.5).ms).toFixed(2));
const med = (k: string) => { const v = rows.map((r) => r.t[k]!).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]!.toFixed(1); };
console.log('medians', ['decode_ms', 'queue_ms', 'inference_ms', 'total_ms'].map((k) => `${k} ${med(k)}`).join(' '));
console.log('slowest 1%:');
for (const r of sorted.slice(-Math.ceil(n / 100))) console.log(r.ms.toFixed(1), JSON.stringify(r.t), 'outside server', (r.ms - r.t.total_ms!).toFixed(1));
