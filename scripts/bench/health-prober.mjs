// GET /healthz on a new connection every `intervalMs`, on a thread of its own, started by scripts/bench/http.ts's
// httpLoad. On the load generator's thread, a probe waited behind autocannon: that thread's event loop ran up to
// 40-45 ms late with 12 MP uploads, as much as the slowest probes it measured. On 'stop', waits for the probes in
// flight and answers with their times (ms, 200 only) and how many failed (an error, another status, or no answer
// within `timeoutMs`). Plain JavaScript, because worker threads do not get tsx's loader on Node 20.
import http from 'node:http';
import { clearInterval, setInterval } from 'node:timers';
import { parentPort, workerData } from 'node:worker_threads';

const { url, intervalMs, timeoutMs } = workerData;
const times = [];
let failures = 0;
const inFlight = new Set();

function probe() {
  const began = performance.now();
  const done = new Promise((resolve) => {
    let settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      if (ok) times.push(performance.now() - began);
      else failures++;
      resolve();
    };
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode === 200));
      res.on('error', () => settle(false));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => settle(false));
  });
  inFlight.add(done);
  void done.then(() => inFlight.delete(done));
}

probe();
const timer = setInterval(probe, intervalMs);
parentPort.once('message', async () => {
  clearInterval(timer);
  await Promise.all([...inFlight]);
  parentPort.postMessage({ times, failures });
});
