/**
 * Turning any thrown error into the catalogue's HTTP answer. Catalogued
 * errors pass through; Fastify's own errors are mapped onto catalogue codes;
 * anything else is a bug: logged with the request id and answered with a
 * generic 500 that leaks nothing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createError, isImgclsError, type ErrorCode, type ImgclsError } from '../errors.ts';
import { FIELD_RULES } from './schemas.ts';

interface FrameworkError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: readonly { instancePath?: string }[];
  validationContext?: string;
}

/** What a 503 tells clients to wait: one second is about a queue's worth of work on a small machine. */
const RETRY_AFTER_SECONDS = 1;

/** The catalogue's JSON answer for `err`. */
export function errorBody(err: ImgclsError): { error: string; message: string } {
  return { error: err.code, message: err.message };
}

/** Overloaded, loading or shutting down: all pass within seconds, and clients and proxies honour Retry-After. */
export function setRetryAfter(reply: FastifyReply, err: ImgclsError): void {
  if (err.status === 503) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
}

const BY_CODE: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

const ACCEPTED_TYPES = 'multipart/form-data, image/*, application/octet-stream or application/json';

function frameworkMessage(code: ErrorCode, err: FrameworkError, contentType: string | undefined): string {
  if (err.validation) {
    // Ajv words a failed anyOf badly ("must be >= 1, must be equal to one of the allowed values"): fields with such schemas state their rule once.
    const field = err.validation[0]?.instancePath?.split('/').pop();
    const rule = field ? FIELD_RULES[field] : undefined;
    if (rule) return `${field} must be ${rule}`;
    return `Invalid request: ${err.validationContext ?? 'request'}${err.message?.replace(/^(body|querystring|params|headers)/, '') ?? ''}`;
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `Content-Type "${(contentType ?? '(none)').slice(0, 100)}" is not accepted; send ${ACCEPTED_TYPES}`;
    default:
      return err.message ?? code;
  }
}

/**
 * The catalogued error for `err`, or null when it is not one we expect
 * (a bug, to be logged and answered with 500).
 */
function catalogued(err: unknown, contentType?: string): ImgclsError | null {
  if (isImgclsError(err)) return err;
  const e = (err ?? {}) as FrameworkError;
  const code = (e.code && BY_CODE[e.code]) || (e.validation ? 'INVALID_REQUEST' : e.statusCode !== undefined ? BY_STATUS[e.statusCode] : undefined);
  if (!code) {
    // Any other 4xx Fastify raised on purpose keeps its status under a generic code.
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return createError('INVALID_REQUEST', e.message ?? 'Invalid request', err);
    return null;
  }
  return createError(code, frameworkMessage(code, e, contentType), err);
}

/**
 * What a request's failure answers: the catalogued error, or for a bug a
 * generic INTERNAL_ERROR naming the request id, with the real error logged.
 * Catalogued 5xx are logged too; 4xx are the client's business.
 */
export function answerFor(request: FastifyRequest, error: unknown): ImgclsError {
  const err = catalogued(error, request.headers['content-type']);
  if (!err) {
    request.log.error({ err: error }, 'unexpected error');
    return createError('INTERNAL_ERROR', `Internal error; the server log has the details under request id ${request.id}`);
  }
  if (err.status >= 500) request.log.error({ err: error }, err.message);
  return err;
}
