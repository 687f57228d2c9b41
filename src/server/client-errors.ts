/**
 * Errors Node's HTTP parser raises before a request reaches Fastify's
 * routing: the header or request timeout, headers over Node's size limit,
 * malformed HTTP. They are answered straight on the socket, in the
 * catalogue's shape like every other error, and the connection is closed.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createError, type ImgclsError } from '../errors.ts';
import { errorBody } from './http-errors.ts';

interface ClientError extends Error {
  code?: string;
}

function classify(err: ClientError): ImgclsError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return createError('REQUEST_TIMEOUT', 'The request was not received in time (see --header-timeout and --request-timeout)');
    case 'HPE_HEADER_OVERFLOW':
      return createError('HEADERS_TOO_LARGE', 'The request headers are larger than the server accepts (16 KiB)');
    default:
      return createError('INVALID_REQUEST', `Malformed HTTP request${err.code ? ` (${err.code})` : ''}`);
  }
}

/** Fastify's `clientErrorHandler`; `this` is the Fastify instance. */
export function clientErrorHandler(this: FastifyInstance, err: ClientError, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = classify(err);
  this.log.debug({ err }, `client error: ${answer.code}`);
  // Writing after a response has started would corrupt it (Node's own handler checks the same).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(errorBody(answer));
    socket.write(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

