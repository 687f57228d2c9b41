/**
 * The web page in headless Chromium (playwright-core driving Debian's
 * /usr/bin/chromium): upload by chooser, drop and paste, errors, keyboard,
 * a phone-sized screen, JavaScript turned off, and no request leaving the
 * server. Screenshots go to test-artifacts/. Set IMGCLS_SKIP_BROWSER=1 to
 * skip where no Chromium is installed; IMGCLS_UPDATE_DOCS_SCREENSHOT=1
 * also rewrites docs/web-page.png, the README's screenshot.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { Classifier } from '../src/engine/classifier.ts';
import { buildApp } from '../src/server/app.ts';
import { serverConfig } from '../src/server/config.ts';
import { ModelRegistry } from '../src/server/registry.ts';
import { resolveModel } from '../src/store/store.ts';
import { tempDir } from './helpers/models.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', name);
const PHOTO = fixture('photo-chelsea.jpg');
const NOT_AN_IMAGE = fixture('not-an-image.png');
const SKIP = process.env.IMGCLS_SKIP_BROWSER === '1';
const WAIT = { timeout: 30_000 };

describe('web page in headless Chromium', { skip: SKIP ? 'IMGCLS_SKIP_BROWSER=1' : false, timeout: 180_000 }, () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let cleanup: (() => Promise<void>) | undefined;
  const contexts: BrowserContext[] = [];
  /** Every URL any page asked for, and every error a page logged (a CSP violation is one). */
  const requested: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`No Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (CI does), or set IMGCLS_SKIP_BROWSER=1 to skip the browser tests`);
    }
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const registry = new ModelRegistry();
    const dir = await resolveModel(undefined, { store: tmp.dir });
    registry.add({ name: 'nsfw-mobilenet-v2', dir, classifier: await Classifier.load(dir) });
    registry.markReady();
    app = await buildApp(serverConfig({ logLevel: false }), registry, { processMetrics: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.close();
    await cleanup?.();
  });

  async function open(options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, ...options });
    contexts.push(context);
    context.on('request', (request) => requested.push(request.url()));
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('console', (message) => {
      // An error answer to fetch() is logged by Chromium; that one is expected.
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) pageErrors.push(`${page.url()}: ${message.text()}`);
    });
    const response = await page.goto(`${base}/`);
    assert.equal(response?.status(), 200);
    return page;
  }

  const cardsOk = (page: Page, n: number) => page.waitForFunction((count) => (globalThis as any).document.querySelectorAll('.card--ok').length === count, n, WAIT);

  async function topLabel(page: Page, nth = 0): Promise<{ label: string; pct: string }> {
    const card = page.locator('.card--ok').nth(nth);
    return {
      label: (await card.locator('.pred-top .pred-label').textContent()) ?? '',
      pct: (await card.locator('.pred-top .pred-pct').textContent()) ?? '',
    };
  }

  test('a chosen photo gets a card with its label, a percentage and the latency', async () => {
    const page = await open();
    await page.setInputFiles('#file', PHOTO);
    await page.click('#submit');
    await cardsOk(page, 1);
    assert.equal(await page.locator('.card').count(), 1);
    const top = await topLabel(page);
    assert.equal(top.label, 'Neutral');
    assert.match(top.pct, /^\d{1,3}\.\d%$/);
    assert.equal(await page.locator('.card--ok .pred').count(), 5);
    assert.match((await page.locator('.card--ok .card-meta').textContent()) ?? '', /^nsfw-mobilenet-v2 · [\d.]+ ms on the server · [\d.]+ ms round trip$/);
    assert.equal(await page.locator('.card--ok .card-title').textContent(), 'photo-chelsea.jpg');
    // The preview is the browser's own copy of the file, shown before the answer came.
    assert.match((await page.locator('.card--ok .card-preview img').getAttribute('src')) ?? '', /^blob:/);
    assert.ok(await page.locator('.card--ok .card-preview img').evaluate((img: any) => img.naturalWidth > 0));
    assert.ok(await page.isVisible('#clear'));
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-result.png'), fullPage: true });
  });

  test('a file that is not an image shows the error plainly', async () => {
    const page = await open();
    await page.setInputFiles('#file', NOT_AN_IMAGE);
    const error = page.locator('.card--error .card-error');
    await error.waitFor(WAIT);
    assert.ok(await error.isVisible());
    const text = (await error.textContent()) ?? '';
    assert.match(text, /Could not classify this image\./);
    assert.match(text, /The data is not an image in a supported format/);
    assert.match(text, /UNSUPPORTED_MEDIA_TYPE/);
    await page.locator('.no-preview').waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-error.png'), fullPage: true });
  });

  test('several images at once get a card each, and Clear removes them', async () => {
    const page = await open();
    await page.setInputFiles('#file', [PHOTO, fixture('photo-astronaut-224.png')]);
    await cardsOk(page, 2);
    assert.equal(await page.locator('.card').count(), 2);
    assert.deepEqual(await page.locator('.card-title').allTextContents(), ['photo-chelsea.jpg', 'photo-astronaut-224.png']);
    assert.equal((await topLabel(page, 0)).label, 'Neutral');
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-two.png'), fullPage: true });
    if (process.env.IMGCLS_UPDATE_DOCS_SCREENSHOT === '1') {
      await mkdir(path.join(ROOT, 'docs'), { recursive: true });
      await copyFile(path.join(ARTIFACTS, 'web-two.png'), path.join(ROOT, 'docs', 'web-page.png'));
    }
    await page.click('#clear');
    assert.equal(await page.locator('.card').count(), 0);
    assert.ok(await page.isHidden('#clear'));
  });

  test('a dropped and a pasted image are classified', async () => {
    const page = await open();
    const b64 = (await readFile(PHOTO)).toString('base64');
    // No named functions in here: tsx would wrap them in a helper the page does not have.
    await page.evaluate((data) => {
      const g = globalThis as any;
      const bytes = Uint8Array.from(g.atob(data), (c: string) => c.charCodeAt(0));
      const [dropped, pasted] = ['dropped.jpg', 'pasted.jpg'].map((name) => {
        const transfer = new g.DataTransfer();
        transfer.items.add(new g.File([bytes], name, { type: 'image/jpeg' }));
        return transfer;
      });
      const zone = g.document.getElementById('dropzone');
      for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new g.DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dropped }));
      g.document.dispatchEvent(new g.ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: pasted }));
    }, b64);
    await cardsOk(page, 2);
    assert.deepEqual((await page.locator('.card-title').allTextContents()).sort(), ['dropped.jpg', 'pasted.jpg']);
    assert.equal((await topLabel(page, 0)).label, 'Neutral');
    assert.equal((await topLabel(page, 1)).label, 'Neutral');
    assert.equal(await page.locator('#dropzone.dragover').count(), 0);
  });

  test('it works with the keyboard: Tab reaches the drop zone and Classify, Enter opens the chooser', async () => {
    const page = await open();
    // Listening turns on Playwright's chooser interception; done here, well before the key presses, it cannot race them.
    page.on('filechooser', () => {});
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => {
        const active = (globalThis as any).document.activeElement;
        return active?.id || active?.tagName?.toLowerCase() || '';
      }));
    }
    const at = (id: string) => order.indexOf(id);
    for (const id of ['model', 'top_k', 'dropzone', 'submit']) assert.ok(at(id) >= 0, `Tab never reached #${id}: ${order.join(', ')}`);
    assert.ok(at('model') < at('top_k') && at('top_k') < at('dropzone') && at('dropzone') < at('submit'), order.join(', '));
    assert.ok(!order.includes('file'), 'the hidden file input is not a separate tab stop');

    // Back to the drop zone, by keyboard alone.
    const active = () => page.evaluate(() => (globalThis as any).document.activeElement?.id ?? '');
    for (let i = 0; i < 8 && (await active()) !== 'dropzone'; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await active(), 'dropzone');
    // A visible focus ring.
    assert.notEqual(await page.locator('#dropzone').evaluate((el: any) => (globalThis as any).getComputedStyle(el).outlineStyle), 'none');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser', WAIT), page.keyboard.press('Enter')]);
    assert.ok(chooser.isMultiple());
    await chooser.setFiles(PHOTO);
    await cardsOk(page, 1);
    // Space opens it too.
    const [again] = await Promise.all([page.waitForEvent('filechooser', WAIT), page.keyboard.press(' ')]);
    await again.setFiles([]);
    // Tab on to Classify and press Enter: the image is classified again, in place.
    await page.keyboard.press('Tab');
    assert.equal(await active(), 'submit');
    await page.keyboard.press('Enter');
    await cardsOk(page, 1);
    assert.equal(await page.locator('.card').count(), 1);
    assert.equal((await topLabel(page)).label, 'Neutral');
  });

  test('on a phone-sized screen (in dark mode) nothing scrolls sideways and the preview stacks above the bars', async () => {
    const page = await open({ viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark' });
    await page.setInputFiles('#file', PHOTO);
    await cardsOk(page, 1);
    const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
    assert.ok(width <= 375, `the page is ${width}px wide`);
    const preview = await page.locator('.card-preview').boundingBox();
    const bars = await page.locator('.card--ok .preds').boundingBox();
    assert.ok(preview && bars && preview.y + preview.height <= bars.y, 'the preview is above the bars');
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-phone.png'), fullPage: true });
  });

  test('with JavaScript off, the form posts and the server renders the result', async () => {
    const page = await open({ javaScriptEnabled: false });
    assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.className), '', 'app.js did not run');
    assert.ok(await page.isVisible('#file'), 'the native file input shows');
    await page.setInputFiles('#file', PHOTO);
    const [response] = await Promise.all([page.waitForNavigation(WAIT), page.click('#submit')]);
    assert.equal(response?.status(), 200);
    assert.equal(response?.request().method(), 'POST');
    assert.equal(await page.locator('.card--ok .pred-top .pred-label').textContent(), 'Neutral');
    assert.match((await page.locator('.card--ok .pred-top .pred-pct').textContent()) ?? '', /^\d{1,3}\.\d%$/);
    assert.match((await page.locator('.summary').textContent()) ?? '', /ms on the server/);
    assert.match((await page.locator('.card--ok .card-preview img').getAttribute('src')) ?? '', /^data:image\/jpeg;base64,/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-nojs.png'), fullPage: true });

    // An invalid file: the page comes back with the error and a 4xx status.
    await page.setInputFiles('#file', NOT_AN_IMAGE);
    const [bad] = await Promise.all([page.waitForNavigation(WAIT), page.click('#submit')]);
    assert.equal(bad?.status(), 415);
    assert.match((await page.locator('.card-error').textContent()) ?? '', /UNSUPPORTED_MEDIA_TYPE/);

    // No file at all.
    const [none] = await Promise.all([page.waitForNavigation(WAIT), page.click('#submit')]);
    assert.equal(none?.status(), 400);
    assert.match((await page.locator('.alert').textContent()) ?? '', /No image was chosen/);
  });

  test('the pages asked nothing of any other origin, and logged no errors', () => {
    assert.ok(requested.length > 0);
    const elsewhere = requested.filter((url) => !url.startsWith(`${base}/`) && !/^(data|blob):/.test(url));
    assert.deepEqual(elsewhere, []);
    assert.ok(requested.includes(`${base}/static/app.js`) && requested.includes(`${base}/static/style.css`));
    assert.deepEqual(pageErrors, []);
  });
});
