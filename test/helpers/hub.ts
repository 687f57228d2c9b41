/**
 * A fake Hugging Face hub on 127.0.0.1 for the pull tests: the model listing
 * (`/api/models/{repo}/revision/{rev}?blobs=true`) and `resolve/` under the
 * hub's URL scheme, LFS files redirected to a "CDN" on another origin, and
 * switches for the failures a real download meets (a dropped connection, a
 * server that ignores Range, bytes that do not match the listing, a private
 * repository). Every request is recorded, headers included.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { colourModel } from './models.ts';

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  authorization: string | undefined;
  range: string | undefined;
}

export interface FakeRepo {
  commit: string;
  /** path → bytes; `.onnx` files are LFS files (served from the CDN), the rest plain git files. */
  files: Map<string, Buffer>;
  /** Only this token may read it; without one the hub answers 401, as the real one does. */
  token?: string;
}

export interface Faults {
  /** Paths whose next GET is cut off half-way (once each). */
  truncate: Set<string>;
  /** Answer Range requests with the whole file (200). */
  ignoreRange: boolean;
  /** Paths served with one byte flipped, so they do not match the listing. */
  corrupt: Set<string>;
}

/** Hex SHA-256 of some bytes, as the hub's listing and `source.json` give it. */
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitBlob = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** A tiny classifier in the transformers.js layout, with the two variant files as copies. */
export function colourRepo(commit = 'c0ffee'.padEnd(40, '0'), token?: string): FakeRepo {
  const model = Buffer.from(colourModel());
  const files = new Map<string, Buffer>([
    ['config.json', Buffer.from(JSON.stringify({ id2label: { 0: 'red', 1: 'green', 2: 'blue' } }))],
    ['preprocessor_config.json', Buffer.from(JSON.stringify({ do_resize: true, size: { height: 16, width: 16 }, do_rescale: true, do_normalize: false }))],
    ['onnx/model.onnx', model],
    // The same classifier with a fixed 16x16 input: other bytes, so a test can tell which one was stored.
    ['onnx/model_quantized.onnx', Buffer.from(colourModel({ size: 16 }))],
    ['README.md', Buffer.from('# colours\n')],
  ]);
  return { commit, files, ...(token ? { token } : {}) };
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly requests: HubRequest[] = [];
  readonly faults: Faults = { truncate: new Set(), ignoreRange: false, corrupt: new Set() };
  private hub!: http.Server;
  private cdn!: http.Server;
  endpoint = '';
  cdnOrigin = '';

  async start(): Promise<this> {
    this.hub = http.createServer((req, res) => this.serveHub(req, res));
    this.cdn = http.createServer((req, res) => this.serveCdn(req, res));
    this.endpoint = `http://127.0.0.1:${await listen(this.hub)}`;
    // Another port is another origin, as a CDN's host is.
    this.cdnOrigin = `http://127.0.0.1:${await listen(this.cdn)}`;
    return this;
  }

  /** Stop both servers; stopping again (or before start) does nothing. */
  async stop(): Promise<void> {
    await close(this.hub);
    await close(this.cdn);
  }

  /** Forget the recorded requests and clear every fault, for the next test. */
  reset(): void {
    this.requests.length = 0;
    this.faults.truncate.clear();
    this.faults.corrupt.clear();
    this.faults.ignoreRange = false;
  }

  private refuse(repo: FakeRepo | undefined, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo) {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end('Repository not found');
      return true;
    }
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end('Invalid credentials');
      return true;
    }
    return false;
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): void {
    record(this.requests, 'hub', req);
    const url = new URL(req.url ?? '/', this.endpoint);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = this.repos.get(decodeURIComponent(api[1]!));
      if (this.refuse(repo, req, res)) return;
      const revision = decodeURIComponent(api[2]!);
      if (revision !== 'main' && revision !== repo!.commit) {
        res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end('Revision not found');
        return;
      }
      const siblings = [...repo!.files].map(([path, bytes]) =>
        path.endsWith('.onnx')
          ? { rfilename: path, size: bytes.length, blobId: 'f'.repeat(40), lfs: { sha256: sha256(bytes), size: bytes.length, pointerSize: 134 } }
          : { rfilename: path, size: bytes.length, blobId: gitBlob(bytes) },
      );
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: api[1], sha: repo!.commit, siblings }));
      return;
    }
    // The hub sends plain files through one same-origin redirect, as huggingface.co does with its resolve cache.
    const cached = /^\/cache\/([^/]+\/[^/]+)\/([^/]+)\/(.+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const match = cached ?? resolve;
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const repo = this.repos.get(decodeURIComponent(match[1]!));
    if (this.refuse(repo, req, res)) return;
    const revision = decodeURIComponent(match[2]!);
    const path = match[3]!.split('/').map(decodeURIComponent).join('/');
    const bytes = repo!.files.get(path);
    if ((revision !== 'main' && revision !== repo!.commit) || bytes === undefined) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (resolve && path.endsWith('.onnx')) {
      res.writeHead(302, {
        Location: `${this.cdnOrigin}/${sha256(bytes)}?path=${encodeURIComponent(path)}&signature=secret`,
        'X-Linked-Etag': `"${sha256(bytes)}"`,
        'X-Linked-Size': String(bytes.length),
        'X-Repo-Commit': repo!.commit,
      });
      res.end();
      return;
    }
    if (resolve) {
      res.writeHead(307, { Location: `/cache/${match[1]}/${match[2]}/${match[3]}`, 'X-Repo-Commit': repo!.commit, ETag: `"${gitBlob(bytes)}"` }).end();
      return;
    }
    this.send(path, bytes, req, res);
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    record(this.requests, 'cdn', req);
    const url = new URL(req.url ?? '/', this.cdnOrigin);
    const path = url.searchParams.get('path') ?? '';
    const bytes = [...this.repos.values()].map((r) => r.files.get(path)).find((b) => b !== undefined && sha256(b) === url.pathname.slice(1));
    if (bytes === undefined) {
      res.writeHead(404).end();
      return;
    }
    this.send(path, bytes, req, res);
  }

  /** The bytes, honouring `Range: bytes=N-` unless told not to, and applying the faults. */
  private send(path: string, original: Buffer, req: IncomingMessage, res: ServerResponse): void {
    let bytes = original;
    if (this.faults.corrupt.has(path)) {
      bytes = Buffer.from(original);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range && !this.faults.ignoreRange ? Number(range[1]) : 0;
    const body = bytes.subarray(start);
    const headers: Record<string, string> = { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (this.faults.truncate.delete(path)) {
      // Half the body, then the connection drops (after a moment, so the half arrives first).
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body);
  }
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Drop open connections and close; a server that is not listening (never started, or closed already) is left as it is. */
async function close(server: http.Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function record(requests: HubRequest[], server: HubRequest['server'], req: IncomingMessage): void {
  requests.push({ server, method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, range: req.headers.range });
}

/** A plain file server (an ONNX Model Zoo stand-in): path → bytes. */
export async function fileServer(files: Map<string, Buffer | string>): Promise<{ origin: string; requests: HubRequest[]; stop: () => Promise<void> }> {
  const requests: HubRequest[] = [];
  const server = http.createServer((req, res) => {
    record(requests, 'cdn', req);
    const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
  });
  const origin = `http://127.0.0.1:${await listen(server)}`;
  return { origin, requests, stop: () => close(server) };
}

/**
 * Set (or, with undefined, unset) environment variables; the returned
 * function puts back what was there before, unset ones included.
 */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  return () => apply(saved);
}
