/**
 * Request bodies on the HTTP thread: once each response has gone, the bytes
 * its connection read for it are garbage, and every few megabytes of them
 * get a young-generation collection. Left to V8, they piled up until it ran
 * a full collection of this thread's heap, a pause that made one request in
 * 40 twice as slow (engine/collector.ts says why).
 */
import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { bodyGarbageCollector } from '../engine/collector.ts';

export function collectRequestBodies(app: FastifyInstance, collect = bodyGarbageCollector()): void {
  // A connection's running count, at its previous response: keep-alive connections carry many requests.
  const counted = new WeakMap<Socket, number>();
  app.addHook('onResponse', async (request) => {
    const socket = request.raw.socket as Socket | undefined;
    const read = socket?.bytesRead;
    // inject() has no real socket.
    if (!socket || typeof read !== 'number') return;
    collect(read - (counted.get(socket) ?? 0));
    counted.set(socket, read);
  });
}
