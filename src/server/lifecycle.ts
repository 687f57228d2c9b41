/**
 * Graceful shutdown. On SIGTERM an orchestrator first stops sending traffic,
 * but requests already routed here, and some that still arrive while the
 * endpoint is being removed, must not be lost. So draining:
 *
 * 1. readiness turns false (`/readyz`, `/v2/health/ready`);
 * 2. new requests, on new or kept-alive connections, get 503 SHUTTING_DOWN
 *    with Retry-After and `Connection: close` (liveness and metrics still
 *    answer, so the pod is not killed as hung);
 * 3. requests already admitted run to the end;
 * 4. once none is left, or the grace period is over, the caller closes the
 *    app (which closes idle connections and the models).
 *
 * Closing the listener at once instead, as `fastify.close()` does, would
 * turn the stragglers into connection errors, which clients do not retry as
 * readily as a 503.
 */
import type { ServerResponse } from 'node:http';

/** Routes that keep answering while draining: probes must not fail the pod before it exits. */
const ALWAYS_ANSWERED = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

export class Lifecycle {
  private inFlight = 0;
  private draining = false;
  private onIdle: (() => void) | null = null;

  get isDraining(): boolean {
    return this.draining;
  }

  /** Requests admitted and not yet answered (or abandoned by their client). */
  get active(): number {
    return this.inFlight;
  }

  /** Whether a request to `path` is refused because the server is draining. */
  refuses(path: string): boolean {
    return this.draining && !ALWAYS_ANSWERED.has(path);
  }

  /** Count a request until its response closes: finished, failed or abandoned alike. */
  admit(response: ServerResponse): void {
    this.inFlight++;
    response.once('close', () => {
      this.inFlight--;
      if (this.inFlight === 0) this.onIdle?.();
    });
  }

  /**
   * Stop admitting requests and wait up to `graceMs` for the admitted ones to
   * finish. Resolves to the requests still running when it ended (0: all finished).
   */
  async drain(graceMs: number): Promise<number> {
    this.draining = true;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onIdle = null;
    }
    return this.inFlight;
  }
}
