/**
 * Issue 7 case 9 at the HTTP level: with URL fetching on, `POST /predict
 * {"url": ...}` refuses every non-public destination with 400 URL_NOT_ALLOWED
 * and a message naming the rule, and never opens a connection to it.
 *
 * Two witnesses for "no connection":
 * - a canary `net.Server` on 127.0.0.1 (and one on ::1, same port, when the
 *   host has IPv6 loopback) counting accepted connections; every loopback URL
 *   uses its port, so a connection that got through would be counted;
 * - the `net.client.socket` diagnostics channel, which sees every client
 *   socket the process opens, so even an attempt at 10.x or 169.254.169.254
 *   (where nothing answers) is counted.
 *
 * Redirects and body limits need an origin the app may fetch from: an HTTP
 * server on 127.0.0.2, allow-listed as exactly 127.0.0.2/32, so 127.0.0.1 and
 * the rest of loopback stay forbidden. Host names are resolved by a stubbed
 * `dns.lookup` (synced into the ESM binding the fetcher imports).
 */
import assert from 'node:assert/strict';
import dns, { type LookupAddress } from 'node:dns';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, mock, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { fixture, testApp, type TestApp, type TestConfig } from './helpers/server.ts';

/** Where the allowed origin listens; nothing else on loopback is allowed. */
const ORIGIN_HOST = '127.0.0.2';
const FETCH_TIMEOUT_MS = 500;
const FILE_BYTES = 4096;
/** Per-test cap, so a fetcher that lost its timeout fails the test instead of hanging the run. */
const CAP = { timeout: 10_000 };

// ---------------------------------------------------------------- witnesses

interface Canary {
  port: number;
  /** Connections accepted on 127.0.0.1 and ::1 so far. */
  accepted: () => number;
  ipv6: boolean;
  close: () => Promise<void>;
}

function listenOn(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  if (server instanceof http.Server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A canary on 127.0.0.1 and, where possible, ::1 at the same port: it counts and hangs up. */
async function startCanary(): Promise<Canary> {
  let count = 0;
  const make = (): net.Server => net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  const v4 = make();
  await listenOn(v4, 0, '127.0.0.1');
  const port = (v4.address() as AddressInfo).port;
  let v6: net.Server | undefined = make();
  try {
    await listenOn(v6, port, '::1');
  } catch {
    v6 = undefined; // no IPv6 loopback, or the port is taken there: the socket witness still counts attempts
  }
  return {
    port,
    accepted: () => count,
    ipv6: v6 !== undefined,
    close: async () => {
      await closeServer(v4);
      if (v6) await closeServer(v6);
    },
  };
}

/** Every client socket the process opens while subscribed (the app under test makes no others). */
function watchClientSockets(): { count: () => number; stop: () => void } {
  let count = 0;
  const onSocket = (): void => void count++;
  diagnostics.subscribe('net.client.socket', onSocket);
  return { count: () => count, stop: () => diagnostics.unsubscribe('net.client.socket', onSocket) };
}

// ---------------------------------------------------------------- the allowed origin

interface Origin {
  port: number;
  base: string;
  /** Requests whose connection is still open. */
  open: () => number;
  close: () => Promise<void>;
}

/**
 * The origin on 127.0.0.2:
 * /red.jpg, /redirect?to=URL&status=302, /loop, and misbehaving bodies:
 * /huge-declared, /endless, /lying-short, /lying-long, /trickle, /hang.
 */
async function startOrigin(image: Buffer): Promise<Origin> {
  const live = new Set<http.ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const drip = (res: http.ServerResponse, chunk: Buffer, ms: number): void => {
    const timer = setInterval(() => res.write(chunk), ms);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  };
  const server = http.createServer((req, res) => {
    live.add(res);
    res.on('close', () => live.delete(res));
    const url = new URL(req.url ?? '/', 'http://origin');
    switch (url.pathname) {
      case '/red.jpg':
        return void res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': image.length }).end(image);
      case '/redirect':
        return void res.writeHead(Number(url.searchParams.get('status') ?? 302), { Location: url.searchParams.get('to') ?? '/' }).end();
      case '/loop':
        return void res.writeHead(302, { Location: '/loop' }).end();
      case '/huge-declared':
        // Declares 10 MiB, sends a little, then stalls: the client must not wait for the rest.
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(10 << 20) });
        return void res.write(image);
      case '/endless':
        // Chunked, no length, never ends.
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        return drip(res, Buffer.alloc(512, 0xff), 1);
      case '/lying-short':
        // Promises 3000 bytes (under the limit), sends 10, then stalls.
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': '3000' });
        return void res.write(image.subarray(0, 10));
      case '/lying-long': {
        // Declares the image's length, then keeps sending junk past it: only the declared bytes may be read.
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(image.length) });
        res.write(image);
        const socket = res.socket!;
        const timer = setInterval(() => socket.write(Buffer.alloc(512, 0x55)), 1);
        timers.add(timer);
        socket.on('close', () => clearInterval(timer));
        return;
      }
      case '/trickle':
        // One byte every 20 ms: 4096 bytes would take 80 s.
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        return drip(res, Buffer.from([0xff]), 20);
      case '/hang':
        return; // no status line, ever
      default:
        return void res.writeHead(404).end();
    }
  });
  try {
    await listenOn(server, 0, ORIGIN_HOST);
  } catch (err) {
    // Linux routes all of 127.0.0.0/8 to lo; elsewhere 127.0.0.2 needs an alias.
    throw new Error(`these tests need ${ORIGIN_HOST} on the loopback interface: ${String(err)}`, { cause: err });
  }
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://${ORIGIN_HOST}:${port}`,
    open: () => live.size,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      await closeServer(server);
    },
  };
}

// ---------------------------------------------------------------- requests and assertions

function postUrl(t: TestApp, url: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/predict', payload: JSON.stringify({ url }), headers: { 'content-type': 'application/json' } });
}

/** A catalogued error answer: status, JSON `{error, message}` and nothing else. */
function assertError(res: LightMyRequestResponse, status: number, code: string, message: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<{ error: string; message: string }>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message'], res.body);
  assert.equal(body.error, code, res.body);
  assert.match(body.message, message);
}

function assertClassifiedRed(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<{ predictions: { label: string }[] }>();
  assert.equal(body.predictions[0]?.label, 'red', res.body);
}

/** Escape for a RegExp. */
const re = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What the fetcher says after naming the address: the rule, and the policy. */
const ruleMessage = (address: string, rule: string): RegExp =>
  new RegExp(`resolves to ${re(address)}, an? ${re(rule)} address; imgcls only fetches public addresses`);

interface Witnesses {
  canary: Canary;
  sockets: { count: () => number };
}

/**
 * POST `url`, expect 400 URL_NOT_ALLOWED matching `message`, and check the
 * witnesses: the canary accepted nothing, and at most `allowedSockets` client
 * sockets were opened (the hops to the allowed origin).
 */
async function assertRefused(t: TestApp, w: Witnesses, url: string, message: RegExp, allowedSockets = 0): Promise<void> {
  const accepted = w.canary.accepted();
  const sockets = w.sockets.count();
  const res = await postUrl(t, url);
  assertError(res, 400, 'URL_NOT_ALLOWED', message);
  // Give a connection that did get out a moment to land at the canary.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(w.canary.accepted() - accepted, 0, 'the canary accepted no connection');
  assert.equal(w.sockets.count() - sockets, allowedSockets, `client sockets opened: only the ${allowedSockets} to the allowed origin`);
}

/** The private destinations every test walks through; `p` is the canary's port. */
interface Destination {
  url: (p: number) => string;
  /** The address the message names, and its rule. */
  address: string;
  rule: string;
  /** Needs IPv6 loopback for the canary to witness it (the socket witness works regardless). */
  v6?: boolean;
}

const DESTINATIONS: Destination[] = [
  { url: (p) => `http://127.0.0.1:${p}/cat.jpg`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `https://127.0.0.1:${p}/cat.jpg`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://127.1:${p}/`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://0x7f.1:${p}/`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://2130706433:${p}/`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://0x7f000001:${p}/`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://0177.0.0.1:${p}/`, address: '127.0.0.1', rule: 'loopback' },
  { url: (p) => `http://0.0.0.0:${p}/`, address: '0.0.0.0', rule: 'unspecified' }, // Linux routes this to loopback
  { url: (p) => `http://0:${p}/`, address: '0.0.0.0', rule: 'unspecified' },
  { url: (p) => `http://[::1]:${p}/`, address: '::1', rule: 'loopback', v6: true },
  { url: (p) => `http://[0:0:0:0:0:0:0:1]:${p}/`, address: '::1', rule: 'loopback', v6: true },
  { url: (p) => `http://[::]:${p}/`, address: '::', rule: 'unspecified', v6: true },
  { url: (p) => `http://[::ffff:127.0.0.1]:${p}/`, address: '::ffff:7f00:1', rule: 'IPv4-mapped loopback' },
  { url: (p) => `http://[::ffff:7f00:1]:${p}/`, address: '::ffff:7f00:1', rule: 'IPv4-mapped loopback' },
  { url: (p) => `http://10.0.0.1:${p}/`, address: '10.0.0.1', rule: 'private' },
  { url: () => 'http://10.255.255.254/x.jpg', address: '10.255.255.254', rule: 'private' },
  { url: () => 'http://172.16.0.1/', address: '172.16.0.1', rule: 'private' },
  { url: () => 'http://192.168.1.1/', address: '192.168.1.1', rule: 'private' },
  { url: () => 'http://169.254.169.254/latest/meta-data/', address: '169.254.169.254', rule: 'cloud metadata' },
  { url: () => 'http://[::ffff:169.254.169.254]/', address: '::ffff:a9fe:a9fe', rule: 'IPv4-mapped cloud metadata' },
  { url: () => 'http://[fd00:ec2::254]/', address: 'fd00:ec2::254', rule: 'unique-local' },
  { url: () => 'http://[fe80::1]/', address: 'fe80::1', rule: 'link-local' },
];

const OTHER_SCHEMES: ((p: number) => string)[] = [
  () => 'file:///etc/passwd',
  (p) => `ftp://127.0.0.1:${p}/cat.jpg`,
  (p) => `gopher://127.0.0.1:${p}/_GET%20/`,
  (p) => `dict://127.0.0.1:${p}/info`,
  (p) => `ws://127.0.0.1:${p}/`,
  (p) => `wss://127.0.0.1:${p}/`,
  () => 'javascript:alert(1)',
  // Not fetched as an image either, though it is one: a data: URL goes in {"image": ...}.
  () => 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==',
  (p) => `blob:http://127.0.0.1:${p}/0a0b`,
];

// ---------------------------------------------------------------- tests

describe('POST /predict {"url"}: forbidden destinations, no connection made', () => {
  let canary: Canary;
  let sockets: ReturnType<typeof watchClientSockets>;
  let origin: Origin;
  const w = (): Witnesses => ({ canary, sockets });

  before(async () => {
    canary = await startCanary();
    sockets = watchClientSockets();
    origin = await startOrigin(await fixture('red.jpg'));
  });
  after(async () => {
    sockets.stop();
    await canary.close();
    await origin.close();
  });

  // The same refusals with no allow list, and with only the origin allowed (an allow list must not widen the rest).
  const configs: [string, TestConfig][] = [
    ['no allow list', { urlFetch: { enabled: true, timeoutMs: 1000 } }],
    [`only ${ORIGIN_HOST}/32 allowed`, { urlFetch: { enabled: true, timeoutMs: 1000, allow: [`${ORIGIN_HOST}/32`] } }],
  ];
  for (const [name, config] of configs) {
    describe(`addresses, ${name}`, () => {
      let t: TestApp;
      before(async () => (t = await testApp({ config })));
      after(() => t.cleanup());

      for (const d of DESTINATIONS) {
        test(`${d.url(0)} is 400 URL_NOT_ALLOWED (${d.rule})`, CAP, async () => {
          const url = d.url(canary.port);
          // The message names the URL as the user wrote it, then the address and its rule.
          const message = new RegExp(`^${re(url)} ${ruleMessage(d.address, d.rule).source}$`);
          await assertRefused(t, w(), url, message);
        });
      }

      test('localhost (real DNS) is 400 URL_NOT_ALLOWED (loopback)', CAP, async () => {
        await assertRefused(t, w(), `http://localhost:${canary.port}/`, /^http:\/\/localhost:\d+\/ resolves to (127\.0\.0\.1|::1), a loopback address/);
      });

      for (const make of OTHER_SCHEMES) {
        const scheme = make(0).slice(0, make(0).indexOf(':') + 1);
        test(`the ${scheme} scheme is 400 URL_NOT_ALLOWED`, CAP, async () => {
          await assertRefused(t, w(), make(canary.port), new RegExp(`^the ${scheme} scheme is not allowed; imgcls only fetches http: and https: URLs$`));
        });
      }

      test('credentials in the URL are 400 URL_NOT_ALLOWED, not echoed', CAP, async () => {
        const res = await postUrl(t, `http://admin:hunter2@${ORIGIN_HOST}:${origin.port}/red.jpg`);
        assertError(res, 400, 'URL_NOT_ALLOWED', /carries credentials/);
        assert.doesNotMatch(res.body, /hunter2/);
      });
    });
  }

  test('the canary does count a connection (the witness works)', CAP, async () => {
    const before = canary.accepted();
    const socket = net.connect(canary.port, '127.0.0.1');
    await new Promise((resolve) => socket.on('close', resolve).on('error', resolve));
    assert.equal(canary.accepted() - before, 1);
    if (canary.ipv6) {
      const socket6 = net.connect(canary.port, '::1');
      await new Promise((resolve) => socket6.on('close', resolve).on('error', resolve));
      assert.equal(canary.accepted() - before, 2);
    }
  });

  describe(`redirects from the allowed origin (${ORIGIN_HOST}/32)`, () => {
    let t: TestApp;
    before(async () => (t = await testApp({ config: { urlFetch: { enabled: true, timeoutMs: 1000, allow: [`${ORIGIN_HOST}/32`] } } })));
    after(() => t.cleanup());

    const via = (to: string, status = 302): string => `${origin.base}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

    test('the origin itself, directly and through a redirect, is fetched and classified', CAP, async () => {
      const sockets0 = sockets.count();
      assertClassifiedRed(await postUrl(t, `${origin.base}/red.jpg`));
      assertClassifiedRed(await postUrl(t, via(`${origin.base}/red.jpg`)));
      assertClassifiedRed(await postUrl(t, via('/red.jpg', 307)));
      assert.equal(sockets.count() - sockets0, 5, 'one socket per hop');
    });

    for (const d of DESTINATIONS) {
      test(`a redirect to ${d.url(0)} is 400 URL_NOT_ALLOWED (${d.rule})`, CAP, async () => {
        const target = d.url(canary.port);
        const from = via(target);
        // A redirect's Location is named as resolved (the WHATWG form), after the URL it came from.
        const message = new RegExp(`^${re(new URL(target).href)} \\(redirected from ${re(from)}\\) ${ruleMessage(d.address, d.rule).source}$`);
        await assertRefused(t, w(), from, message, 1);
      });
    }

    for (const status of [301, 302, 303, 307, 308]) {
      test(`a ${status} to 127.0.0.1 is refused too`, CAP, async () => {
        await assertRefused(t, w(), via(`http://127.0.0.1:${canary.port}/`, status), ruleMessage('127.0.0.1', 'loopback'), 1);
      });
    }

    test('a protocol-relative Location is resolved, then refused', CAP, async () => {
      await assertRefused(t, w(), via(`//127.0.0.1:${canary.port}/x`), ruleMessage('127.0.0.1', 'loopback'), 1);
    });

    test('a private address two hops down the chain is refused', CAP, async () => {
      await assertRefused(t, w(), via(via(`http://169.254.169.254/latest/meta-data/`)), ruleMessage('169.254.169.254', 'cloud metadata'), 2);
    });

    for (const make of OTHER_SCHEMES) {
      const scheme = make(0).slice(0, make(0).indexOf(':') + 1);
      test(`a redirect to the ${scheme} scheme is refused`, CAP, async () => {
        await assertRefused(t, w(), via(make(canary.port)), new RegExp(`^the ${scheme} scheme is not allowed`), 1);
      });
    }

    test('a redirect loop stops at maxRedirects with 400 URL_FETCH_FAILED', CAP, async () => {
      const sockets0 = sockets.count();
      assertError(await postUrl(t, `${origin.base}/loop`), 400, 'URL_FETCH_FAILED', /redirected more than 3 times; giving up/);
      assert.equal(sockets.count() - sockets0, 4, 'the first request and three redirects');
    });
  });

  describe('host names that resolve to a private address (stubbed DNS)', () => {
    let t: TestApp;
    const asked: string[] = [];
    const TABLE: Record<string, string[]> = {
      'origin.test': [ORIGIN_HOST],
      'loopback.test': ['127.0.0.1'],
      'v6-loopback.test': ['::1'],
      'mapped.test': ['::ffff:127.0.0.1'],
      'private.test': ['10.0.0.7'],
      'metadata.test': ['169.254.169.254'],
      // One public answer first: every answer is checked, not just the one that would be used.
      'mixed.test': ['93.184.216.34', '127.0.0.1'],
    };
    const via = (to: string): string => `${origin.base}/redirect?to=${encodeURIComponent(to)}`;

    before(async () => {
      mock.method(dns, 'lookup', (host: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
        asked.push(host);
        const addresses = TABLE[host];
        if (!addresses) {
          const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
          return void setImmediate(callback, err, []);
        }
        setImmediate(callback, null, addresses.map((address) => ({ address, family: net.isIP(address) })));
      });
      syncBuiltinESMExports();
      t = await testApp({ config: { urlFetch: { enabled: true, timeoutMs: 1000, allow: [`${ORIGIN_HOST}/32`] } } });
    });
    after(async () => {
      mock.restoreAll();
      syncBuiltinESMExports();
      await t.cleanup();
    });

    test('a name for the allowed origin is resolved through the stub and fetched (the stub is in effect)', CAP, async () => {
      asked.length = 0;
      assertClassifiedRed(await postUrl(t, `http://origin.test:${origin.port}/red.jpg`));
      assert.deepEqual(asked, ['origin.test']);
    });

    const names: [string, string, string][] = [
      ['loopback.test', '127.0.0.1', 'loopback'],
      ['v6-loopback.test', '::1', 'loopback'],
      ['mapped.test', '::ffff:127.0.0.1', 'IPv4-mapped loopback'],
      ['private.test', '10.0.0.7', 'private'],
      ['metadata.test', '169.254.169.254', 'cloud metadata'],
      ['mixed.test', '127.0.0.1', 'loopback'],
    ];
    for (const [name, address, rule] of names) {
      test(`${name} (${address}) is 400 URL_NOT_ALLOWED (${rule})`, CAP, async () => {
        asked.length = 0;
        const url = `http://${name}:${canary.port}/cat.jpg`;
        await assertRefused(t, w(), url, new RegExp(`^${re(url)} ${ruleMessage(address, rule).source}$`));
        assert.deepEqual(asked, [name], 'resolved once, through the resolver');
      });

      test(`a redirect to ${name} is refused`, CAP, async () => {
        asked.length = 0;
        const target = `http://${name}:${canary.port}/cat.jpg`;
        await assertRefused(t, w(), via(target), new RegExp(`^${re(target)} \\(redirected from .*\\) ${ruleMessage(address, rule).source}$`), 1);
        assert.deepEqual(asked, [name]);
      });
    }
  });
});

describe('POST /predict {"url"}: bodies are cut at the size limit or the timeout', () => {
  let origin: Origin;
  let t: TestApp;

  before(async () => {
    origin = await startOrigin(await fixture('red.jpg'));
    t = await testApp({
      config: { urlFetch: { enabled: true, timeoutMs: FETCH_TIMEOUT_MS, allow: [`${ORIGIN_HOST}/32`] }, limits: { fileBytes: FILE_BYTES } },
    });
  });
  after(async () => {
    await t.cleanup();
    await origin.close();
  });

  /** POST the origin's `path`; return the answer and how long it took. */
  async function timed(path: string): Promise<{ res: LightMyRequestResponse; ms: number }> {
    const started = performance.now();
    const res = await postUrl(t, `${origin.base}${path}`);
    return { res, ms: performance.now() - started };
  }

  /** The fetcher hung up: no request to the origin is left open. */
  async function assertHungUp(): Promise<void> {
    for (let i = 0; i < 50 && origin.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(origin.open(), 0, 'the connection to the origin was closed');
  }

  test('a Content-Length over the limit is 413 IMAGE_TOO_LARGE without waiting for the body', CAP, async () => {
    const { res, ms } = await timed('/huge-declared');
    assertError(res, 413, 'IMAGE_TOO_LARGE', new RegExp(`/huge-declared is 10485760 bytes, over the ${FILE_BYTES}-byte limit$`));
    assert.ok(ms < FETCH_TIMEOUT_MS, `answered in ${Math.round(ms)} ms, before the timeout`);
    await assertHungUp();
  });

  test('an endless chunked body is cut at the limit: 413 IMAGE_TOO_LARGE', CAP, async () => {
    const { res, ms } = await timed('/endless');
    assertError(res, 413, 'IMAGE_TOO_LARGE', new RegExp(`/endless sent more than the ${FILE_BYTES}-byte limit$`));
    assert.ok(ms < FETCH_TIMEOUT_MS, `answered in ${Math.round(ms)} ms, before the timeout`);
    await assertHungUp();
  });

  test('a Content-Length that promises more than arrives is cut at the timeout: 400 URL_FETCH_FAILED', CAP, async () => {
    const { res, ms } = await timed('/lying-short');
    assertError(res, 400, 'URL_FETCH_FAILED', new RegExp(`timed out after ${FETCH_TIMEOUT_MS} ms$`));
    assert.ok(ms >= FETCH_TIMEOUT_MS - 10 && ms < FETCH_TIMEOUT_MS + 1500, `took ${Math.round(ms)} ms`);
    await assertHungUp();
  });

  test('junk past the declared Content-Length is not read: the declared image is classified', CAP, async () => {
    const { res, ms } = await timed('/lying-long');
    assertClassifiedRed(res);
    assert.ok(ms < FETCH_TIMEOUT_MS, `answered in ${Math.round(ms)} ms, before the timeout`);
    await assertHungUp();
  });

  test('a body that trickles forever is cut at the timeout: 400 URL_FETCH_FAILED', CAP, async () => {
    const { res, ms } = await timed('/trickle');
    assertError(res, 400, 'URL_FETCH_FAILED', new RegExp(`^fetching ${re(origin.base)}/trickle timed out after ${FETCH_TIMEOUT_MS} ms$`));
    assert.ok(ms >= FETCH_TIMEOUT_MS - 10 && ms < FETCH_TIMEOUT_MS + 1500, `took ${Math.round(ms)} ms`);
    await assertHungUp();
  });

  test('a server that never answers is cut at the timeout: 400 URL_FETCH_FAILED', CAP, async () => {
    const { res, ms } = await timed('/hang');
    assertError(res, 400, 'URL_FETCH_FAILED', new RegExp(`timed out after ${FETCH_TIMEOUT_MS} ms$`));
    assert.ok(ms >= FETCH_TIMEOUT_MS - 10 && ms < FETCH_TIMEOUT_MS + 1500, `took ${Math.round(ms)} ms`);
    await assertHungUp();
  });
});
