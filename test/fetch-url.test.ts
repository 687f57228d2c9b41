import assert from 'node:assert/strict';
import type { lookup as dnsLookup, LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isImgclsError } from '../src/errors.ts';
import { classifyAddress, createAddressPolicy } from '../src/server/address-policy.ts';
import { fetchImage, type FetchOptions } from '../src/server/fetch-url.ts';

const IMAGE = Buffer.from('\x89PNG\r\n\x1a\nnot really a png, but bytes are bytes');
const LOOPBACK = ['127.0.0.0/8'];

/** A resolver from a table, counting calls; unknown names fail like NXDOMAIN. */
function fakeLookup(table: Record<string, string[] | (() => string[])>) {
  const calls: string[] = [];
  const lookup = (host: string, _opts: unknown, callback: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
    calls.push(host);
    const entry = table[host];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (!addresses) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`);
      err.code = 'ENOTFOUND';
      setImmediate(callback, err, []);
      return;
    }
    setImmediate(callback, null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return { lookup: lookup as unknown as typeof dnsLookup, calls };
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number; connections: () => number }> {
  const server = http.createServer(handler);
  let count = 0;
  server.on('connection', () => count++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Assert `promise` rejects with a catalogued error of `code` whose message matches. */
async function rejectsWith(promise: Promise<unknown>, code: string, status: number, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isImgclsError(err), `expected an ImgclsError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('classifyAddress', () => {
  const forbidden: [string, string][] = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['0:0:0:0:0:ffff:169.254.169.254', 'IPv4-mapped cloud metadata'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated private'],
    ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 cloud metadata'],
    ['2002:7f00:1::', '6to4 loopback'],
    ['::127.0.0.1', 'deprecated IPv4-compatible'],
    ['2001:db8::1', 'documentation'],
    ['100::1', 'reserved'],
    ['fec0::1', 'reserved'],
    ['fe80::1%eth0', 'zone-scoped'],
    ['localhost', 'unparseable'],
    ['0177.0.0.1', 'unparseable'],
    ['', 'unparseable'],
  ];
  for (const [ip, rule] of forbidden) {
    test(`${ip || '(empty)'} is ${rule}`, () => assert.equal(classifyAddress(ip), rule));
  }

  const publicAddresses = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700::1111',
    '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'];
  for (const ip of publicAddresses) {
    test(`${ip} is public`, () => assert.equal(classifyAddress(ip), undefined));
  }
});

describe('createAddressPolicy', () => {
  test('allow-listed CIDRs are permitted, the rest still refused', () => {
    const policy = createAddressPolicy(['127.0.0.0/8', 'fd00::/8', '192.168.1.5']);
    assert.equal(policy('127.0.0.1'), undefined);
    assert.equal(policy('::ffff:127.0.0.1'), undefined, 'a mapped address is the same host');
    assert.equal(policy('fd12::1'), undefined);
    assert.equal(policy('192.168.1.5'), undefined);
    assert.equal(policy('192.168.1.6'), 'private');
    assert.equal(policy('::1'), 'loopback');
    assert.equal(policy('10.0.0.1'), 'private');
    assert.equal(policy('8.8.8.8'), undefined);
  });

  test('a malformed CIDR is INVALID_OPTION', () => {
    for (const bad of ['127.0.0.0/33', 'nope', '10.0.0.0/8/8', '::/129', '10.0.0.0/x']) {
      assert.throws(() => createAddressPolicy([bad]), (err: unknown) => isImgclsError(err) && err.code === 'INVALID_OPTION', bad);
    }
  });

  test('WHATWG URL normalises numeric IPv4 forms, which the fetcher relies on', () => {
    for (const host of ['127.1', '0x7f.1', '2130706433', '0177.0.0.1', '0x7f000001']) {
      assert.equal(new URL(`http://${host}/`).hostname, '127.0.0.1', host);
    }
    assert.equal(new URL('http://[::ffff:127.0.0.1]/').hostname, '[::ffff:7f00:1]');
    assert.equal(new URL('http://[0:0:0:0:0:0:0:1]/').hostname, '[::1]');
    assert.throws(() => new URL('http://[fe80::1%25eth0]/'), 'zone ids are not valid in URLs');
  });
});

describe('fetchImage refuses forbidden destinations without connecting', () => {
  let canary: Awaited<ReturnType<typeof listen>>;
  const options = (extra: Partial<FetchOptions> = {}): FetchOptions => ({ maxBytes: 1 << 20, timeoutMs: 2000, ...extra });
  before(async () => (canary = await listen((_req, res) => res.end(IMAGE))));
  after(() => close(canary.server));

  const cases: [(port: number) => string, RegExp][] = [
    [(p) => `http://127.0.0.1:${p}/`, /127\.0\.0\.1, a loopback address; imgcls only fetches public addresses/],
    [(p) => `http://127.1:${p}/x`, /127\.1.*resolves to 127\.0\.0\.1, a loopback address/],
    [(p) => `http://0x7f.1:${p}/`, /loopback/],
    [(p) => `http://2130706433:${p}/`, /loopback/],
    [(p) => `http://0177.0.0.1:${p}/`, /loopback/],
    [(p) => `http://[::1]:${p}/`, /::1, a loopback address/],
    [(p) => `http://[::ffff:127.0.0.1]:${p}/`, /::ffff:7f00:1, an IPv4-mapped loopback address/],
    [() => 'http://10.1.2.3/', /10\.1\.2\.3, a private address/],
    [() => 'http://169.254.169.254/latest/meta-data/', /a cloud metadata address/],
    [() => 'http://[fe80::1]/', /a link-local address/],
    [(p) => `http://0.0.0.0:${p}/`, /an unspecified address/],
    [() => 'https://[fd00:ec2::254]/', /a unique-local address/],
  ];
  for (const [make, message] of cases) {
    test(make(0), async () => {
      await rejectsWith(fetchImage(make(canary.port), options()), 'URL_NOT_ALLOWED', 400, message);
      assert.equal(canary.connections(), 0);
    });
  }

  test('only http: and https: schemes', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/cat.jpg', 'data:image/png;base64,iVBORw0KGgo=', 'gopher://127.0.0.1:70/', 'javascript:alert(1)']) {
      const scheme = url.slice(0, url.indexOf(':') + 1);
      await rejectsWith(fetchImage(url, options()), 'URL_NOT_ALLOWED', 400, new RegExp(`the ${scheme} scheme is not allowed`));
    }
  });

  test('not a URL', async () => {
    for (const url of ['not a url', '/relative/path.jpg', '', 'http://']) {
      await rejectsWith(fetchImage(url, options()), 'URL_NOT_ALLOWED', 400, /not an absolute URL/);
    }
  });

  test('credentials are refused and not echoed', async () => {
    await assert.rejects(fetchImage('http://user:hunter2@example.com/cat.jpg', options()), (err: unknown) => {
      assert.ok(isImgclsError(err));
      assert.equal(err.code, 'URL_NOT_ALLOWED');
      assert.match(err.message, /credentials/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
  });

  test('a name that resolves to loopback is refused, even when allow-listing something else', async () => {
    const { lookup, calls } = fakeLookup({ 'evil.test': ['127.0.0.1'] });
    await rejectsWith(fetchImage(`http://evil.test:${canary.port}/`, options({ lookup })), 'URL_NOT_ALLOWED', 400,
      /evil\.test.* resolves to 127\.0\.0\.1, a loopback address/);
    await rejectsWith(fetchImage(`http://evil.test:${canary.port}/`, options({ lookup, allow: ['10.0.0.0/8'] })), 'URL_NOT_ALLOWED', 400);
    assert.deepEqual(calls, ['evil.test', 'evil.test']);
    assert.equal(canary.connections(), 0);
  });

  test('one private address among public ones is enough to refuse', async () => {
    const { lookup } = fakeLookup({ 'mixed.test': ['93.184.216.34', '192.168.0.10'] });
    await rejectsWith(fetchImage('http://mixed.test/', options({ lookup })), 'URL_NOT_ALLOWED', 400, /192\.168\.0\.10, a private address/);
    const v6 = fakeLookup({ 'mixed6.test': ['2606:4700::1111', '::ffff:169.254.169.254'] });
    await rejectsWith(fetchImage('http://mixed6.test/', options({ lookup: v6.lookup })), 'URL_NOT_ALLOWED', 400, /IPv4-mapped cloud metadata/);
    assert.equal(canary.connections(), 0);
  });

  test('a DNS failure is URL_FETCH_FAILED', async () => {
    const { lookup } = fakeLookup({ 'empty.test': [] });
    await rejectsWith(fetchImage('http://nxdomain.test/', options({ lookup })), 'URL_FETCH_FAILED', 400, /could not resolve nxdomain\.test: ENOTFOUND/);
    await rejectsWith(fetchImage('http://empty.test/', options({ lookup })), 'URL_FETCH_FAILED', 400, /no addresses/);
  });

  test('a resolver that never answers times out', async () => {
    const lookup = (() => {}) as unknown as typeof dnsLookup;
    await rejectsWith(fetchImage('http://slow-dns.test/', options({ lookup, timeoutMs: 100 })), 'URL_FETCH_FAILED', 400, /timed out after 100 ms/);
  });
});

describe('fetchImage from an allow-listed loopback server', () => {
  let origin: Awaited<ReturnType<typeof listen>>;
  let base: string;
  const seen: http.IncomingHttpHeaders[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const options = (extra: Partial<FetchOptions> = {}): FetchOptions => ({ maxBytes: 1024, timeoutMs: 2000, allow: LOOPBACK, ...extra });

  /** Write `chunk` every `ms` until the client goes away. */
  function drip(res: http.ServerResponse, chunk: Buffer, ms: number): void {
    const timer = setInterval(() => res.write(chunk), ms);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  }

  before(async () => {
    origin = await listen((req, res) => {
      seen.push(req.headers);
      const path = req.url ?? '/';
      const redirect = (to: string): void => void res.writeHead(302, { Location: to }).end();
      if (path === '/image') return void res.writeHead(200, { 'Content-Type': 'image/png' }).end(IMAGE);
      if (path === '/html') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>');
      if (path === '/r1') return redirect('/r2');
      if (path === '/r2') return redirect(`http://127.0.0.1:${origin.port}/image`);
      if (path.startsWith('/chain/')) return redirect(`/chain/${Number(path.slice(7)) + 1}`);
      if (path === '/to-private') return redirect('http://10.0.0.1/');
      if (path === '/to-v6-loopback') return redirect(`http://[::1]:${origin.port}/image`);
      if (path === '/to-file') return redirect('file:///etc/passwd');
      if (path === '/to-name') return redirect(`http://images.test:${origin.port}/image`);
      if (path === '/no-location') return void res.writeHead(302).end();
      if (path === '/huge-declared') {
        res.writeHead(200, { 'Content-Length': String(10 << 20) });
        return void res.write(Buffer.alloc(16)); // then hang: the client must not wait for the rest
      }
      if (path === '/endless') return drip(res, Buffer.alloc(256, 1), 1);
      if (path === '/lying') {
        res.writeHead(200, { 'Content-Length': '10' });
        return drip(res, Buffer.alloc(256, 2), 1);
      }
      if (path === '/slow') return drip(res, Buffer.from('x'), 20);
      if (path === '/hang') return; // never answers
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('nope');
    });
    base = `http://127.0.0.1:${origin.port}`;
  });
  after(() => {
    for (const timer of timers) clearInterval(timer);
    return close(origin.server);
  });

  test('returns the bytes, with our User-Agent and Accept', async () => {
    const body = await fetchImage(`${base}/image`, options());
    assert.deepEqual(Buffer.from(body), IMAGE);
    const headers = seen.at(-1)!;
    assert.equal(headers['user-agent'], 'imgcls');
    assert.equal(headers.accept, 'image/*');
  });

  test('a non-image content type is not an error', async () => {
    assert.deepEqual(Buffer.from(await fetchImage(`${base}/html`, options())), Buffer.from('<html>'));
  });

  test('is refused without the allow-list', async () => {
    await rejectsWith(fetchImage(`${base}/image`, options({ allow: [] })), 'URL_NOT_ALLOWED', 400, /loopback/);
  });

  test('follows 302 -> 302 -> 200', async () => {
    assert.deepEqual(Buffer.from(await fetchImage(`${base}/r1`, options())), IMAGE);
  });

  test('re-checks every redirect hop', async () => {
    await rejectsWith(fetchImage(`${base}/to-private`, options()), 'URL_NOT_ALLOWED', 400,
      /http:\/\/10\.0\.0\.1\/ \(redirected from .*\/to-private\) resolves to 10\.0\.0\.1, a private address/);
    await rejectsWith(fetchImage(`${base}/to-v6-loopback`, options()), 'URL_NOT_ALLOWED', 400, /::1, a loopback address/);
    await rejectsWith(fetchImage(`${base}/to-file`, options()), 'URL_NOT_ALLOWED', 400, /file: scheme/);
  });

  test('more than maxRedirects is URL_FETCH_FAILED', async () => {
    await rejectsWith(fetchImage(`${base}/chain/0`, options()), 'URL_FETCH_FAILED', 400, /redirected more than 3 times/);
    await rejectsWith(fetchImage(`${base}/r1`, options({ maxRedirects: 1 })), 'URL_FETCH_FAILED', 400, /more than 1 times/);
    await rejectsWith(fetchImage(`${base}/no-location`, options()), 'URL_FETCH_FAILED', 400, /without a Location/);
  });

  test('a non-2xx status is URL_FETCH_FAILED naming it', async () => {
    await rejectsWith(fetchImage(`${base}/missing`, options()), 'URL_FETCH_FAILED', 400, /answered 404 Not Found/);
  });

  test('a Content-Length over the limit is refused before reading the body', async () => {
    const started = performance.now();
    await rejectsWith(fetchImage(`${base}/huge-declared`, options({ timeoutMs: 5000 })), 'IMAGE_TOO_LARGE', 413, /10485760 bytes, over the 1024-byte limit/);
    assert.ok(performance.now() - started < 1000, 'did not wait for the body');
  });

  test('an endless chunked body is cut at the limit', async () => {
    await rejectsWith(fetchImage(`${base}/endless`, options()), 'IMAGE_TOO_LARGE', 413, /more than the 1024-byte limit/);
  });

  test('a lying Content-Length never yields more than it declared, nor more than the limit', async () => {
    const result = await fetchImage(`${base}/lying`, options({ timeoutMs: 1000 })).then(
      (body) => body,
      (err: unknown) => {
        assert.ok(isImgclsError(err) && ['IMAGE_TOO_LARGE', 'URL_FETCH_FAILED'].includes(err.code), String(err));
        return undefined;
      },
    );
    if (result) assert.ok(result.length <= 10, `got ${result.length} bytes`);
  });

  test('a body that trickles forever times out within the budget', async () => {
    const started = performance.now();
    await rejectsWith(fetchImage(`${base}/slow`, options({ maxBytes: 1 << 20, timeoutMs: 300 })), 'URL_FETCH_FAILED', 400, /timed out after 300 ms/);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 1000, `took ${elapsed} ms`);
  });

  test('a server that never answers times out', async () => {
    const started = performance.now();
    await rejectsWith(fetchImage(`${base}/hang`, options({ timeoutMs: 200 })), 'URL_FETCH_FAILED', 400, /timed out after 200 ms/);
    assert.ok(performance.now() - started < 1000);
  });

  test('a refused connection is URL_FETCH_FAILED', async () => {
    const closed = await listen(() => {});
    await close(closed.server);
    await rejectsWith(fetchImage(`http://127.0.0.1:${closed.port}/`, options()), 'URL_FETCH_FAILED', 400, /could not fetch .*ECONNREFUSED/);
  });

  test('a redirect to a DNS name connects to the address that was checked', async () => {
    // The first answer is the real server; any later one is a port with no listener.
    // If the request re-resolved (DNS rebinding), it would fail to connect.
    let answers = 0;
    const { lookup, calls } = fakeLookup({ 'images.test': () => (answers++ === 0 ? ['127.0.0.1'] : ['127.0.0.3']) });
    const body = await fetchImage(`${base}/to-name`, options({ lookup }));
    assert.deepEqual(Buffer.from(body), IMAGE);
    assert.deepEqual(calls, ['images.test'], 'resolved once, then pinned');
    assert.equal(seen.at(-1)!.host, `images.test:${origin.port}`, 'Host header keeps the name');
  });

  test('a rebinding name is refused when its answer turns private', async () => {
    let answers = 0;
    const { lookup } = fakeLookup({ 'images.test': () => (answers++ === 0 ? ['127.0.0.1'] : ['10.0.0.1']) });
    await fetchImage(`http://images.test:${origin.port}/image`, options({ lookup }));
    await rejectsWith(fetchImage(`http://images.test:${origin.port}/image`, options({ lookup })), 'URL_NOT_ALLOWED', 400, /10\.0\.0\.1, a private address/);
  });
});
