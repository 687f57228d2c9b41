/**
 * Building a real server app for tests: colour-model packages in a temp dir,
 * a registry holding them, and `buildApp` with logs and process metrics off.
 * Tests talk to it with `app.inject()`; nothing listens.
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Classifier, type ClassifierOptions } from '../../src/engine/classifier.ts';
import { buildApp } from '../../src/server/app.ts';
import { serverConfig } from '../../src/server/config.ts';
import { ModelRegistry } from '../../src/server/registry.ts';
import { COLOURS, colourModel, fx, tempDir, writeBarePackage } from './models.ts';

export { FIXTURES } from './models.ts';

/** Fixtures every decoder path must classify: file, its media type, and the colour model's answer. */
export const LABELLED_FIXTURES: readonly (readonly [file: string, type: string, label: string])[] = [
  ['green.png', 'image/png', 'green'],
  ['blue.webp', 'image/webp', 'blue'],
  ['red.avif', 'image/avif', 'red'],
  ['green-then-red.gif', 'image/gif', 'green'],
  ['blue-then-red.tiff', 'image/tiff', 'blue'],
  ['red-cmyk.jpg', 'image/jpeg', 'red'],
  ['green-16bit.png', 'image/png', 'green'],
  ['blue-rgba.png', 'image/png', 'blue'],
];

/** A fixture's bytes. */
export const fixture = (name: string): Promise<Buffer> => readFile(fx(name));

export interface TestModel {
  name: string;
  /** Labels of the colour model; more than three pads the output with never-predicted classes. */
  labels?: readonly string[];
  /** Register with `{default: true}`. */
  default?: boolean;
}

export type TestConfig = Parameters<typeof serverConfig>[0];

export interface TestAppOptions {
  /** Models to serve, in registration order; one model named "colour" when omitted. */
  models?: readonly TestModel[];
  /** Server settings; `logLevel` is false unless given. */
  config?: TestConfig;
  /** Call `registry.markReady()` after adding the models (default true). */
  ready?: boolean;
  /** Where the log goes (with a `logLevel` in `config`); stdout when omitted. */
  logStream?: NodeJS.WritableStream;
  /** How the models are loaded; one inference worker unless given (each worker costs a start-up). */
  classifier?: ClassifierOptions;
}

export interface TestApp {
  app: FastifyInstance;
  registry: ModelRegistry;
  /** The temp directory holding the model packages. */
  dir: string;
  /** Close the app (and with it the models) and remove the temp directory. */
  cleanup: () => Promise<void>;
}

/** An app serving colour models (red/green/blue by channel mean). */
export async function testApp(options: TestAppOptions = {}): Promise<TestApp> {
  const models = options.models ?? [{ name: 'colour' }];
  const { dir, cleanup: removeDir } = await tempDir('imgcls-server-');
  const registry = new ModelRegistry();
  let app: FastifyInstance | undefined;
  try {
    for (const m of models) {
      const labels = m.labels ?? COLOURS;
      const pkg = await writeBarePackage(path.join(dir, m.name), colourModel({ size: 16, classes: Math.max(3, labels.length) }), 'labels.txt', labels);
      const classifier = await Classifier.load(pkg, { workers: 1, ...options.classifier });
      registry.add({ name: m.name, dir: pkg, classifier }, { default: m.default ?? false });
    }
    if (options.ready !== false) registry.markReady();
    const config = serverConfig({ logLevel: false, ...options.config });
    app = await buildApp(config, registry, { processMetrics: false, logStream: options.logStream });
    await app.ready();
  } catch (err) {
    if (app) await app.close();
    else await registry.close();
    await removeDir();
    throw err;
  }
  const built = app;
  let closed = false;
  return {
    app: built,
    registry,
    dir,
    cleanup: async () => {
      if (closed) return;
      closed = true;
      await built.close();
      await removeDir();
    },
  };
}

/** One multipart part: field name, content, and for a file its filename and type. */
export type Part = [name: string, content: Uint8Array | string, filename?: string, type?: string];

/**
 * A multipart/form-data body. A part with a filename (or binary content) is
 * a file; a string without a filename is a plain field.
 */
export async function multipart(parts: readonly Part[]): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const [name, content, filename, type] of parts) {
    if (typeof content === 'string' && filename === undefined) {
      form.append(name, content);
    } else {
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      form.append(name, new Blob([bytes], { type: type ?? 'application/octet-stream' }), filename ?? 'upload');
    }
  }
  const response = new Response(form);
  const payload = Buffer.from(await response.arrayBuffer());
  const contentType = response.headers.get('content-type');
  if (!contentType) throw new Error('FormData gave no Content-Type');
  return { payload, headers: { 'content-type': contentType } };
}
