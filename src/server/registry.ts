/**
 * The models a server serves, by name. The first one added, or the one
 * marked default, answers routes that name no model.
 */
import path from 'node:path';
import type { Classifier } from '../engine/classifier.ts';
import { createError } from '../errors.ts';
import { outputSize } from '../model/spec.ts';
import { MODEL_NAME } from '../model/name.ts';

export interface ServedModel {
  readonly name: string;
  readonly dir: string;
  readonly classifier: Classifier;
}

/** What `GET /models/{name}` shows: labels, the input the model takes and how images get there. */
export interface ModelDescription {
  name: string;
  default: boolean;
  labels: readonly string[];
  input: { name: string; layout: string; width: number | null; height: number | null; shape: readonly (number | string)[] };
  output: { name: string; activation: string; classes: number };
  preprocess: Record<string, unknown>;
  device: string;
  format: string;
}

/** A model's name from how it was given: `name=dir`, a store name, or a directory's base name. */
export function modelName(ref: string, dir: string): string {
  return ref.includes('/') || ref.includes(path.sep) || ref === '.' ? path.basename(path.resolve(dir)) : ref;
}

export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  private defaultName: string | null = null;
  private loaded = false;
  private readonly observers: ((model: ServedModel) => void)[] = [];

  /** Call `fn` for every model served, now and when added (the app wires its metrics this way). */
  observe(fn: (model: ServedModel) => void): void {
    this.observers.push(fn);
    for (const m of this.models.values()) fn(m);
  }

  /** Set by whoever loads the models, once all are in; `/readyz` reports it. */
  markReady(): void {
    this.loaded = true;
  }

  get ready(): boolean {
    return this.loaded && this.models.size > 0;
  }

  /** @throws ImgclsError INVALID_OPTION when the name is taken. */
  add(model: ServedModel, options: { default?: boolean } = {}): void {
    if (!MODEL_NAME.test(model.name)) {
      throw createError('INVALID_OPTION', `Model name "${model.name}" must be letters, digits, '.', '_' or '-' (name it with --model name=dir)`);
    }
    if (this.models.has(model.name)) {
      throw createError('INVALID_OPTION', `Two models are named "${model.name}"; name one with --model othername=dir`);
    }
    this.models.set(model.name, model);
    for (const fn of this.observers) fn(model);
    if (options.default || this.defaultName === null) this.defaultName = model.name;
  }

  get names(): string[] {
    return [...this.models.keys()];
  }

  get defaultModel(): string | null {
    return this.defaultName;
  }

  /**
   * The named model, or the default when `name` is undefined.
   * @throws ImgclsError MODEL_NOT_FOUND naming the models that exist.
   */
  get(name?: string): ServedModel {
    const key = name ?? this.defaultName;
    const model = key === null ? undefined : this.models.get(key);
    if (!model && !this.loaded) throw createError('MODEL_LOADING', 'The models are still loading; retry shortly (GET /readyz says when they are ready)');
    if (!model) {
      const known = this.names.length > 0 ? this.names.join(', ') : 'none';
      throw createError('MODEL_NOT_FOUND', `No model named "${key ?? ''}" is served; served models: ${known}`);
    }
    return model;
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  describe(name?: string): ModelDescription {
    const { name: n, classifier } = this.get(name);
    const spec = classifier.spec;
    const input = classifier.signature.inputs.find((i) => i.name === spec.inputName);
    const size = outputSize(spec.preprocess);
    return {
      name: n,
      default: n === this.defaultName,
      labels: spec.labels,
      input: {
        name: spec.inputName,
        layout: spec.preprocess.layout,
        width: size?.width ?? null,
        height: size?.height ?? null,
        shape: input?.shape ?? [],
      },
      output: { name: spec.outputName, activation: spec.activation, classes: spec.labels.length },
      preprocess: { ...spec.preprocess },
      device: classifier.device,
      format: spec.format,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.classifier.close()));
    this.models.clear();
  }
}
