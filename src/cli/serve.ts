/**
 * `imgcls serve`: the HTTP service. It listens first, so /healthz answers
 * while the models load (a built-in converts on first start), then loads
 * each model and reports ready. SIGINT/SIGTERM drain the server (see
 * lifecycle.ts): in-flight requests finish, new ones get 503, and it exits 0;
 * if the drain timeout cuts requests, it exits 1. A second signal stops at
 * once.
 */
import type { AddressInfo } from 'node:net';
import { defineCommand } from 'citty';
import { Classifier, DEFAULT_MAX_QUEUE, type ClassifierOptions } from '../engine/classifier.ts';
import { createError } from '../errors.ts';
import { buildApp } from '../server/app.ts';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, DEFAULT_TIMEOUTS, DEFAULT_URL_FETCH, jsonBytesFor, serverConfig, type ServerConfig } from '../server/config.ts';
import { Lifecycle } from '../server/lifecycle.ts';
import { createAddressPolicy } from '../server/address-policy.ts';
import { ModelRegistry, modelName } from '../server/registry.ts';
import { DEFAULT_MODEL } from '../store/builtin.ts';
import { resolveModel } from '../store/store.ts';
import type { CliIO, CommandData } from './io.ts';
import { checkKnownFlags, classifierOptions, storeOptions, modelArgs, parseBytes, parseChoice, parseNonNegativeInt, parsePositiveInt, repeatedFlag } from './options.ts';

const MiB = 1024 * 1024;

export const serveArgs = {
  ...modelArgs,
  model: { type: 'string', description: `Model to serve (repeat for several): a built-in, a stored name, a directory, or name=dir (default ${DEFAULT_MODEL})`, valueHint: 'name|dir' },
  default: { type: 'string', description: 'Which served model answers routes that name none (default: the first)', valueHint: 'name' },
  port: { type: 'string', description: 'Port to listen on (0 picks a free one)', default: String(DEFAULT_PORT) },
  host: { type: 'string', description: 'Address to listen on; 0.0.0.0 for every interface (containers)', default: DEFAULT_HOST },
  'allow-url-fetch': { type: 'boolean', description: 'Accept {"url": ...} in /predict (public addresses only)' },
  'url-allow': { type: 'string', description: 'With --allow-url-fetch: CIDRs that may be fetched although private, comma-separated', valueHint: 'cidr,...' },
  'url-timeout': { type: 'string', description: 'With --allow-url-fetch: ms for the whole fetch', default: String(DEFAULT_URL_FETCH.timeoutMs), valueHint: 'ms' },
  'save-uploads': { type: 'string', description: 'Store every classified image, re-encoded, with a JSON sidecar of its predictions', valueHint: 'dir' },
  'max-file-size': { type: 'string', description: 'Largest image upload', default: `${DEFAULT_LIMITS.fileBytes / MiB}MB`, valueHint: 'size' },
  'max-files': { type: 'string', description: 'Most images per request', default: String(DEFAULT_LIMITS.files), valueHint: 'n' },
  'max-fields': { type: 'string', description: 'Most non-file fields in a multipart form', default: String(DEFAULT_LIMITS.fields), valueHint: 'n' },
  'max-parts': { type: 'string', description: 'Most parts (files and fields) in a multipart form', default: String(DEFAULT_LIMITS.parts), valueHint: 'n' },
  'max-queue': { type: 'string', description: 'Most images admitted per model at once (decoding, queued or running); past it requests get 503 with Retry-After', default: String(DEFAULT_MAX_QUEUE), valueHint: 'n' },
  'max-pixels': { type: 'string', description: 'Refuse images whose header claims more pixels', default: String(DEFAULT_LIMITS.maxPixels), valueHint: 'n' },
  'header-timeout': { type: 'string', description: 'ms a client may take to send the request headers', default: String(DEFAULT_TIMEOUTS.headersMs), valueHint: 'ms' },
  'request-timeout': { type: 'string', description: 'ms a client may take to send the whole request, body included', default: String(DEFAULT_TIMEOUTS.requestMs), valueHint: 'ms' },
  'drain-timeout': { type: 'string', description: 'On SIGTERM: ms in-flight requests get to finish before they are cut', default: String(DEFAULT_TIMEOUTS.drainMs), valueHint: 'ms' },
  'log-level': { type: 'string', description: 'fatal, error, warn, info, debug, trace or silent', default: 'info' },
} as const;

type ServeArgs = { [K in keyof typeof serveArgs]?: string | boolean } & { _: string[] };

function configFrom(a: ServeArgs): ServerConfig {
  const s = (k: keyof typeof serveArgs): string | undefined => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  const port = Number(s('port') ?? DEFAULT_PORT);
  if (!/^\d+$/.test(s('port') ?? '') || port > 65535) throw createError('INVALID_OPTION', `Expected a port 0-65535 for --port but received "${s('port')}"`);
  const fileBytes = parseBytes('max-file-size', s('max-file-size')!);
  const allow = (s('url-allow') ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  createAddressPolicy(allow); // fails now, at start-up, on a malformed CIDR
  return serverConfig({
    host: s('host') ?? DEFAULT_HOST,
    port,
    limits: {
      fileBytes,
      jsonBytes: jsonBytesFor(fileBytes),
      files: parsePositiveInt('max-files', s('max-files')!),
      fields: parsePositiveInt('max-fields', s('max-fields')!),
      parts: parsePositiveInt('max-parts', s('max-parts')!),
      maxPixels: parsePositiveInt('max-pixels', s('max-pixels')!),
    },
    timeouts: {
      headersMs: parsePositiveInt('header-timeout', s('header-timeout')!),
      requestMs: parsePositiveInt('request-timeout', s('request-timeout')!),
      drainMs: parseNonNegativeInt('drain-timeout', s('drain-timeout')!),
    },
    urlFetch: { enabled: a['allow-url-fetch'] === true, allow, timeoutMs: parsePositiveInt('url-timeout', s('url-timeout')!) },
    saveUploads: s('save-uploads') ?? null,
    logLevel: parseChoice('log-level', s('log-level') ?? 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  });
}

/** `name=dir` names a model explicitly; otherwise a built-in or stored name keeps its name and a directory gives its base name. */
function splitRef(ref: string): { name?: string; ref: string } {
  const eq = ref.indexOf('=');
  return eq > 0 ? { name: ref.slice(0, eq), ref: ref.slice(eq + 1) } : { ref };
}

async function loadModels(registry: ModelRegistry, refs: readonly string[], wantedDefault: string | undefined, store: string | undefined, options: ClassifierOptions, io: CliIO): Promise<void> {
  for (const given of refs) {
    const { name: explicit, ref } = splitRef(given);
    const dir = await resolveModel(ref, storeOptions(store, io));
    const classifier = await Classifier.load(dir, options);
    const name = explicit ?? modelName(ref, dir);
    registry.add({ name, dir, classifier }, { default: name === wantedDefault });
  }
  if (wantedDefault !== undefined && !registry.has(wantedDefault)) {
    throw createError('INVALID_OPTION', `--default ${wantedDefault} is not among the served models (${registry.names.join(', ')})`);
  }
  registry.markReady();
}

export const serveCommand = defineCommand({
  meta: { name: 'serve', description: 'Serve models over HTTP: REST API, Open Inference Protocol (v2), web page, docs and metrics' },
  args: serveArgs,
  async run({ args: a, rawArgs, data }) {
    const cmd = data as CommandData;
    const { io } = cmd;
    checkKnownFlags(rawArgs, serveArgs);
    const config = configFrom(a as ServeArgs);
    const options = classifierOptions(a, (m) => io.err(`warning: ${m}`));
    options.maxPixels = config.limits.maxPixels;
    options.maxQueue = parsePositiveInt('max-queue', typeof a['max-queue'] === 'string' ? a['max-queue'] : String(DEFAULT_MAX_QUEUE));
    const refs = repeatedFlag(rawArgs, 'model', serveArgs);
    if (refs.length === 0) refs.push(DEFAULT_MODEL);
    const wantedDefault = typeof a.default === 'string' ? a.default : undefined;

    const registry = new ModelRegistry();
    const lifecycle = new Lifecycle();
    const app = await buildApp(config, registry, { lifecycle });
    const closed = new Promise<void>((resolve) => app.addHook('onClose', async () => resolve()));
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        io.err(`imgcls: ${signal} again: stopping now`);
        app.server.closeAllConnections();
        void app.close();
        return;
      }
      stopping = true;
      io.err(`imgcls: ${signal}: draining ${lifecycle.active} request(s) in flight (up to ${config.timeouts.drainMs} ms); new requests get 503`);
      void lifecycle.drain(config.timeouts.drainMs).then((unfinished) => {
        if (unfinished > 0) {
          io.err(`imgcls: the drain timeout (${config.timeouts.drainMs} ms) cut ${unfinished} request(s) still running`);
          cmd.exitCode = 1;
          app.server.closeAllConnections();
        }
        return app.close();
      });
    };
    // on, not once: a second Ctrl-C must reach stop() rather than kill the process mid-drain.
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await app.listen({ host: config.host, port: config.port });
      // The bound address, not Fastify's first URL: with --host 0.0.0.0 (containers) that was http://127.0.0.1:..., which reads as unreachable from outside.
      const bound = app.server.address() as AddressInfo;
      const address = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
      io.err(`imgcls: listening on ${address}${bound.address === '0.0.0.0' || bound.address === '::' ? ' (every interface)' : ''} (web page /, API docs /docs, metrics /metrics); loading ${refs.join(', ')}`);
      await loadModels(registry, refs, wantedDefault, typeof a.store === 'string' ? a.store : undefined, options, io);
      if (stopping) {
        // Stopped while loading: the app closed the registry already, but not what was still loading.
        await registry.close();
      } else {
        const first = registry.get().classifier;
        const how = `${first.workers > 0 ? `${first.workers} inference worker${first.workers === 1 ? '' : 's'}` : 'inference on the main thread'}, batches of up to ${first.batching.maxBatch}, max delay ${first.batching.maxDelayMs} ms, queue ${first.maxQueue}`;
        io.err(`imgcls: ready; serving ${registry.names.join(', ')} (default ${registry.defaultModel}; ${how})`);
      }
      // Resolves when a signal (or anything else) closes the app; it never rejects.
      await closed;
    } catch (err) {
      await app.close();
      throw err;
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  },
});
