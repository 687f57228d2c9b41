/**
 * Prometheus metrics, on a registry of the app's own (not prom-client's
 * global one), so two apps in one process — tests — do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Stage = 'decode' | 'queue' | 'inference' | 'total';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'imgcls_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  private readonly requestSeconds = new Histogram({
    name: 'imgcls_http_request_duration_seconds',
    help: 'HTTP request duration by route, from the first byte read to the last byte written',
    labelNames: ['route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly latency = new Histogram({
    name: 'imgcls_classification_duration_seconds',
    help: 'Time per image by stage: decode (and resize), queue (waiting for a batch and a worker), inference (tensor + model); total is per request',
    labelNames: ['model', 'stage'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly batches = new Histogram({
    name: 'imgcls_inference_batch_size',
    help: 'Images per inference call',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  private readonly images = new Counter({
    name: 'imgcls_images_total',
    help: 'Images classified, by model and outcome (ok, or the error code)',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean; queueDepths?: () => Iterable<[model: string, images: number]> } = {}) {
    // Read from the classifiers at scrape time: they already count what they admitted.
    const depths = options.queueDepths;
    new Gauge({
      name: 'imgcls_queue_depth',
      help: 'Images accepted and not yet answered (waiting for or in decode and inference), by model',
      labelNames: ['model'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [model, images] of depths?.() ?? []) this.set({ model }, images);
      },
    });
    // Process metrics (RSS, event-loop lag, GC) are what one looks at first when a server misbehaves.
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'imgcls_' });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.requestSeconds.observe({ route, method }, seconds);
  }

  stage(model: string, stage: Stage, ms: number): void {
    this.latency.observe({ model, stage }, ms / 1000);
  }

  batch(model: string, size: number): void {
    this.batches.observe({ model }, size);
  }

  image(model: string, outcome: string): void {
    this.images.inc({ model, outcome });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
