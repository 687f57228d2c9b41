/**
 * A multipart request refused part-way (found by scripts/fuzz.ts): the rest
 * of its body must still be read and dropped, or the connection stalls with
 * the request unfinished, the next request on it is never answered, and a
 * graceful shutdown waits on it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { fixture, testApp, type TestApp } from './helpers/server.ts';

let t: TestApp;
let port: number;

before(async () => {
  t = await testApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as net.AddressInfo).port;
});
after(() => t.cleanup());

/** Send `requests` one after the other on one keep-alive connection; the status line of each answer, or "no answer". */
function onOneConnection(requests: Buffer[], timeoutMs: number): Promise<string[]> {
  return new Promise((resolve) => {
    const statuses: string[] = [];
    let data = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve([...statuses, ...Array(requests.length - statuses.length).fill('no answer')]);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('error', finish);
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      // Each answer here is small JSON with a Content-Length: cut it off and send the next request.
      for (let m = /^(HTTP\/1\.1 \d{3})[^]*?content-length: (\d+)\r\n[^]*?\r\n\r\n/i.exec(data); m; m = /^(HTTP\/1\.1 \d{3})[^]*?content-length: (\d+)\r\n[^]*?\r\n\r\n/i.exec(data)) {
        const end = m[0].length + Number(m[2]);
        if (data.length < end) break;
        statuses.push(m[1]!);
        data = data.slice(end);
        if (statuses.length === requests.length) return finish();
        socket.write(requests[statuses.length]!);
      }
    });
    socket.write(requests[0]!);
  });
}

test('a form refused at its first part leaves the connection usable', async () => {
  const boundary = 'drain-test';
  const part = (field: string, bytes: Uint8Array) => Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ]);
  // Far more body after the refused part than the socket's buffers hold, so it cannot all be read by accident.
  const body = Buffer.concat([part('not-an-image-field', await fixture('red.jpg')), part('file', Buffer.alloc(1024 * 1024, 0x55)), Buffer.from(`--${boundary}--\r\n`)]);
  const post = Buffer.concat([Buffer.from(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  const healthz = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual(await onOneConnection([post, healthz], 5000), ['HTTP/1.1 400', 'HTTP/1.1 200']);
});
