/**
 * multipart/form-data bodies (RFC 7578), read from the request stream into
 * one buffer and split with Buffer.indexOf.
 *
 * This replaced @fastify/multipart and busboy for a measured reason: on the
 * HTTP thread, busboy's JavaScript boundary search, its streams per part and
 * the plugin's per-request machinery cost 0.3-0.4 ms of CPU per upload of a
 * 137 kB PNG, where the same image as a raw body cost none of it; at
 * concurrency 32 that was 7% of the server's throughput (BENCHMARKS.md,
 * "Reading multipart bodies"). It also ends a workaround: busboy stalled for
 * ever on a part that was not form-data, and a timer per request had to
 * watch for it.
 *
 * Limits are enforced as the bytes arrive, so an oversized part is refused
 * once it passes the limit, not after it has been read; the buffer holds at
 * most one part (each finished file is copied out into memory of its own, so
 * it can be moved to an inference worker whole), and goes back to a pool
 * when the form ends (form-buffers.ts).
 */
import type { IncomingMessage } from 'node:http';
import { createError, type ImgclsError } from '../errors.ts';
import { BufferPool } from './form-buffers.ts';

export interface FormLimits {
  /** Largest file part, in bytes. */
  fileBytes: number;
  /** Most file parts. */
  files: number;
  /** Most non-file parts. */
  fields: number;
  /** Largest non-file part, in bytes. */
  fieldBytes: number;
  /** Most parts, files and fields together. */
  parts: number;
}

export interface FormFile {
  field: string;
  data: Buffer;
}

export interface Form {
  /** In the order they came. */
  files: FormFile[];
  /** A Map, not an object: no field name can reach a prototype. */
  fields: Map<string, string>;
}

/** RFC 2046: a boundary is 1 to 70 characters. Longer ones only serve to make the search slower. */
export const MAX_BOUNDARY = 70;
/** A part's header block; the longest real one is a long file name. */
export const MAX_PART_HEADER_BYTES = 64 * 1024;
/** Bytes before the first boundary, which RFC 2046 says to ignore; real clients send none. */
export const MAX_PREAMBLE_BYTES = 64 * 1024;
/** The first buffer, when Content-Length says how much is coming; more grows it by doubling. A client's claim alone gets no more than this. */
const MAX_FIRST_BUFFER = 2 ** 20;
/** Spares for the reader's buffer (form-buffers.ts says why); four of the largest first size is 4 MiB at most. */
const FORM_BUFFERS = new BufferPool({ count: 4, maxBytes: MAX_FIRST_BUFFER });

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;

const EMPTY = Buffer.alloc(0);

const malformed = (what: string): ImgclsError => createError('INVALID_REQUEST', `Malformed multipart body: ${what}`);

/** Whether a Content-Type is multipart/form-data, whatever its parameters. */
export function isMultipart(contentType: string | undefined): boolean {
  return /^\s*multipart\/form-data\s*(;|$)/i.test(contentType ?? '');
}

/**
 * The boundary a multipart Content-Type declares.
 * @throws ImgclsError INVALID_REQUEST when there is none, or it breaks RFC 2046's length rule.
 */
export function formBoundary(contentType: string | undefined): string {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  if (!m) throw malformed('the Content-Type has no boundary parameter');
  const boundary = m[1] ?? m[2] ?? '';
  if (boundary.length < 1 || boundary.length > MAX_BOUNDARY) {
    throw malformed(`the boundary is ${boundary.length} characters; RFC 2046 allows 1 to ${MAX_BOUNDARY}`);
  }
  return boundary;
}

/** A header's value and its parameters: `form-data; name="file"; filename="a.jpg"`. */
export function parseParams(value: string): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  let i = value.indexOf(';');
  const type = (i < 0 ? value : value.slice(0, i)).trim().toLowerCase();
  while (i >= 0 && i < value.length) {
    i++;
    const eq = value.indexOf('=', i);
    const semi = value.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      // A parameter without a value: skip it.
      i = semi;
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (value[j] === ' ' || value[j] === '\t') j++;
    let text = '';
    if (value[j] === '"') {
      // A quoted string; a backslash escapes the next character (curl writes \" in file names).
      for (j++; j < value.length && value[j] !== '"'; j++) text += value[j] === '\\' && j + 1 < value.length ? value[++j] : value[j];
      i = value.indexOf(';', j);
    } else {
      const end = value.indexOf(';', j);
      text = (end < 0 ? value.slice(j) : value.slice(j, end)).trim();
      i = end;
    }
    if (name.endsWith('*')) {
      // RFC 5987: filename*=UTF-8''na%C3%AFve.jpg, which wins over the plain form.
      // One it cannot decode still says the parameter is there: a file name makes a part a file.
      const base = name.slice(0, -1);
      params.set(base, decodeExtValue(text) ?? params.get(base) ?? text);
    } else if (!params.has(name)) {
      params.set(name, text);
    }
  }
  return { type, params };
}

function decodeExtValue(text: string): string | null {
  const m = /^(utf-?8|iso-8859-1)'[^']*'(.*)$/i.exec(text);
  if (!m) return null;
  try {
    const bytes = Buffer.from(m[2]!.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return bytes.toString(m[1]!.toLowerCase().startsWith('utf') ? 'utf8' : 'latin1');
  } catch {
    return null;
  }
}

/** A part's headers: names lower-cased, the first of a repeated header kept, folded lines joined. */
function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  if (block === '') return headers;
  // The header a folded line continues; null for a repeated one, whose folded lines go with it.
  let last: string | null | undefined;
  for (const line of block.split('\r\n')) {
    if ((line[0] === ' ' || line[0] === '\t') && last !== undefined) {
      if (last !== null) headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`a part has a header line without a name: "${line.slice(0, 60)}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) {
      last = null;
      continue;
    }
    headers.set(name, line.slice(colon + 1).trim());
    last = name;
  }
  return headers;
}

interface PartInfo {
  field: string;
  isFile: boolean;
}

export interface FormParserOptions {
  /** Content-Length, when the request has one: the buffer's first size. */
  sizeHint?: number;
  /** Called with each file part's field name once its headers are read; throw to refuse the form there. */
  checkFile?: (field: string) => void;
  /** Where the buffer comes from and goes back to (default: one pool for the process). */
  buffers?: BufferPool;
}

type State = 'preamble' | 'afterDelimiter' | 'headers' | 'data' | 'done';

/**
 * Parses a form pushed to it a chunk at a time. push() and end() throw the
 * catalogue's errors: INVALID_REQUEST for a malformed body,
 * PAYLOAD_TOO_LARGE and TOO_MANY_IMAGES for the limits.
 */
export class FormParser {
  private buf: Buffer;
  /** Bytes held in buf. */
  private len = 0;
  /** Where parsing stands in buf; everything before it is done with. */
  private pos = 0;
  /** Where the search for the current state's end goes on from: bytes before it hold no match's start, so a chunk is never searched twice. */
  private scanFrom = 0;
  private state: State = 'preamble';
  private part: PartInfo | null = null;
  /** CRLF, two dashes and the boundary: what ends a part's data. */
  private readonly delimiter: Buffer;
  private parts = 0;
  private fieldParts = 0;
  private readonly form: Form = { files: [], fields: new Map() };
  /** The body's Content-Length, when it gave a usable one. */
  private readonly declared: number | undefined;
  private readonly buffers: BufferPool;
  /** What push() threw, thrown again by every later call. */
  private refusal: unknown = null;

  constructor(
    boundary: string,
    private readonly limits: FormLimits,
    private readonly options: FormParserOptions = {},
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    const hint = options.sizeHint;
    this.declared = hint !== undefined && Number.isSafeInteger(hint) && hint > 0 ? hint : undefined;
    this.buffers = options.buffers ?? FORM_BUFFERS;
    this.buf = this.buffers.take(this.declared !== undefined ? Math.min(this.declared, MAX_FIRST_BUFFER) : 64 * 1024);
  }

  push(chunk: Uint8Array): void {
    if (this.refusal !== null) throw this.refusal;
    // After the closing boundary comes the epilogue, which RFC 2046 says to ignore.
    if (this.state === 'done') return;
    try {
      this.append(chunk);
      this.parse();
    } catch (err) {
      // Refused for good: a limit check may have moved on before throwing, and a form that could still
      // finish would give back a buffer its reader was in the middle of.
      this.refusal = err;
      throw err;
    }
  }

  /** The whole form, once the body has ended. */
  end(): Form {
    if (this.refusal !== null) throw this.refusal;
    if (this.state !== 'done') throw malformed(this.parts === 0 ? 'no boundary line was found' : 'the body ended before the closing boundary');
    return this.form;
  }

  private append(chunk: Uint8Array): void {
    // Drop what has been parsed, so the buffer holds at most the part in progress.
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.len);
      this.len -= this.pos;
      this.scanFrom = Math.max(0, this.scanFrom - this.pos);
      this.pos = 0;
    }
    if (this.len + chunk.length > this.buf.length) {
      const needed = this.len + chunk.length;
      // Doubling, but no further than the declared length where that holds the rest: a 4.1 MB upload needs no 8 MiB buffer.
      const doubled = Math.max(this.buf.length * 2, needed);
      const grown = this.buffers.take(this.declared !== undefined && needed <= this.declared ? Math.min(doubled, this.declared) : doubled);
      this.buf.copy(grown, 0, 0, this.len);
      this.buffers.give(this.buf);
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /**
   * Index of `needle` in the bytes held, searching on from where the last
   * search stopped, or -1. Starting again from the part's start each time
   * would make a header block sent a byte at a time cost the square of its
   * length. On a miss, `scanFrom - pos` is how many bytes are surely not
   * the needle's, which is what the limits are checked against, so that a
   * limit does not depend on where the chunks end.
   */
  private search(needle: Buffer | string): number {
    // Only the bytes held: the rest of the buffer is stale, and searching it would cost as much again.
    const at = this.buf.subarray(0, this.len).indexOf(needle, Math.max(this.pos, this.scanFrom), 'latin1');
    if (at < 0) this.scanFrom = Math.max(this.pos, this.len - needle.length + 1);
    return at;
  }

  private parse(): void {
    while (this.step());
  }

  /** One state's work; false when it needs more bytes, or the form is done. */
  private step(): boolean {
    switch (this.state) {
      case 'preamble':
        return this.preamble();
      case 'afterDelimiter':
        return this.afterDelimiter();
      case 'headers':
        return this.headers();
      case 'data':
        return this.data();
      case 'done':
        return false;
    }
  }

  /** Up to the first boundary line; the body usually starts with it, without the CRLF a delimiter has. */
  private preamble(): boolean {
    const dashBoundaryLength = this.delimiter.length - 2;
    if (this.len < dashBoundaryLength) return false;
    if (this.buf.compare(this.delimiter, 2, this.delimiter.length, 0, dashBoundaryLength) === 0) {
      this.pos = dashBoundaryLength;
    } else {
      const at = this.search(this.delimiter);
      if ((at < 0 ? this.scanFrom : at) > MAX_PREAMBLE_BYTES) throw malformed(`no boundary line in the first ${MAX_PREAMBLE_BYTES / 1024} KiB`);
      if (at < 0) return false;
      this.pos = at + this.delimiter.length;
    }
    this.state = 'afterDelimiter';
    return true;
  }

  /** After a boundary: "--" closes the form; otherwise optional spaces, then the line break that opens a part. */
  private afterDelimiter(): boolean {
    let i = this.pos;
    if (this.len - i < 2) return false;
    if (this.buf[i] === DASH && this.buf[i + 1] === DASH) {
      this.state = 'done';
      // Every file is copied out and every field decoded: the buffer goes back for the next form now,
      // not when the request (whose 'data' listener holds this parser) is answered.
      this.buffers.give(this.buf);
      this.buf = EMPTY;
      this.len = this.pos = this.scanFrom = 0;
      return false;
    }
    while (i < this.len && (this.buf[i] === 0x20 || this.buf[i] === 0x09)) i++;
    if (i - this.pos > 256) throw malformed('a boundary line is followed by more than 256 spaces');
    if (this.len - i < 2) return false;
    if (this.buf[i] !== CR || this.buf[i + 1] !== LF) throw malformed('a boundary line goes on after the boundary (does the data contain the boundary?)');
    this.pos = i + 2;
    if (++this.parts > this.limits.parts) {
      throw createError('PAYLOAD_TOO_LARGE', `More than ${this.limits.parts} parts in the form; see the server limit --max-parts`);
    }
    this.scanFrom = this.pos;
    this.state = 'headers';
    return true;
  }

  private headers(): boolean {
    let block = '';
    let dataStart: number;
    if (this.len - this.pos < 2) return false;
    if (this.buf[this.pos] === CR && this.buf[this.pos + 1] === LF) {
      // No headers at all.
      dataStart = this.pos + 2;
    } else {
      const end = this.search('\r\n\r\n');
      if ((end < 0 ? this.scanFrom : end) - this.pos > MAX_PART_HEADER_BYTES) throw createError('PAYLOAD_TOO_LARGE', `A part's headers are over ${MAX_PART_HEADER_BYTES / 1024} KiB`);
      if (end < 0) return false;
      block = this.buf.toString('utf8', this.pos, end);
      dataStart = end + 4;
    }
    this.part = this.describe(parseHeaders(block));
    this.pos = dataStart;
    this.scanFrom = dataStart;
    this.state = 'data';
    return true;
  }

  /** What a part is, from its headers; refuses it when the form must stop here. */
  private describe(headers: Map<string, string>): PartInfo {
    const disposition = headers.get('content-disposition');
    if (disposition === undefined) throw malformed(`part ${this.parts} has no Content-Disposition header; each part must be "Content-Disposition: form-data; name=..."`);
    const { type, params } = parseParams(disposition);
    if (type !== 'form-data') throw malformed(`part ${this.parts} is "Content-Disposition: ${type}"; each part must be "Content-Disposition: form-data; name=..."`);
    const field = params.get('name') ?? '';
    if (field in Object.prototype) throw createError('INVALID_REQUEST', `A form field may not be named "${field}"`);
    const contentType = parseParams(headers.get('content-type') ?? '').type;
    // As busboy decided: a file name, or a binary type without one.
    const isFile = params.has('filename') || contentType === 'application/octet-stream';
    if (isFile) {
      if (this.form.files.length >= this.limits.files) {
        throw createError('TOO_MANY_IMAGES', `More than ${this.limits.files} files in one request; see the server limit --max-files`);
      }
      this.options.checkFile?.(field);
    } else if (++this.fieldParts > this.limits.fields) {
      throw createError('PAYLOAD_TOO_LARGE', `More than ${this.limits.fields} fields in the form; see the server limit --max-fields`);
    }
    return { field, isFile };
  }

  /** A part's data runs to the next delimiter; refused as soon as it is surely over its limit. */
  private data(): boolean {
    const part = this.part!;
    const limit = part.isFile ? this.limits.fileBytes : this.limits.fieldBytes;
    const at = this.search(this.delimiter);
    if ((at < 0 ? this.scanFrom : at) - this.pos > limit) throw this.tooLarge(part);
    if (at < 0) return false;
    if (part.isFile) {
      // Copied out into memory of its own: the buffer is reused, and a whole buffer can be moved to a worker.
      const data = Buffer.allocUnsafeSlow(at - this.pos);
      this.buf.copy(data, 0, this.pos, at);
      this.form.files.push({ field: part.field, data });
    } else {
      this.form.fields.set(part.field, this.buf.toString('utf8', this.pos, at));
    }
    this.part = null;
    this.pos = at + this.delimiter.length;
    this.state = 'afterDelimiter';
    return true;
  }

  private tooLarge(part: PartInfo): ImgclsError {
    return part.isFile
      ? createError('PAYLOAD_TOO_LARGE', `A file is larger than the server allows (${this.limits.fileBytes} bytes; see --max-file-size)`)
      : createError('PAYLOAD_TOO_LARGE', `Form field "${part.field.slice(0, 40)}" is over ${this.limits.fieldBytes} bytes`);
  }
}

/**
 * Read a request's form. A refused form rejects at once, and the rest of
 * the body is still read and dropped: unread, it would hold the keep-alive
 * connection with the request unfinished (test/multipart-drain.test.ts).
 */
export function readForm(request: IncomingMessage, parser: FormParser): Promise<Form> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    // Every request closes, most after their end: build the error (and its stack) only for one that did not.
    const closedEarly = () => {
      if (!settled) fail(createError('INVALID_REQUEST', 'The client closed the connection before the body ended'));
    };
    request.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        parser.push(chunk);
      } catch (err) {
        fail(err);
      }
    });
    request.once('end', () => {
      if (settled) return;
      try {
        resolve(parser.end());
        settled = true;
      } catch (err) {
        fail(err);
      }
    });
    request.once('error', (err) => fail(createError('INVALID_REQUEST', `The request body could not be read: ${err.message}`, err)));
    // A connection closed part-way ends the stream with neither 'end' nor, always, 'error'.
    request.once('close', closedEarly);
    // A connection already gone by now would send none of these events.
    if (request.destroyed && !request.readableEnded) closedEarly();
  });
}
