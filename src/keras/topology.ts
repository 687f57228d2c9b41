/**
 * Keras model configs (as TF.js `model.json` holds them) flattened into one
 * list of layer calls in dependency order. Sequential and functional models
 * are both read, in the Keras 2 layout (`inbound_nodes` as nested lists) and
 * the Keras 3 layout (`args` holding `__keras_tensor__` references). Models
 * nested as layers (Teachable Machine wraps a functional MobileNet inside two
 * Sequentials) are inlined, so the converter only ever sees plain layers.
 */
import { createError } from '../errors.ts';

export type KerasShape = readonly (number | null)[];

export interface LayerCall {
  className: string;
  /** The layer's own name; weights are looked up by it. */
  name: string;
  /** Names of the models enclosing the layer, outermost first. */
  scope: readonly string[];
  config: Record<string, unknown>;
  inputs: string[];
  output: string;
}

export interface KerasInput {
  id: string;
  name: string;
  shape: KerasShape;
}

export interface KerasGraph {
  name: string;
  /** Keras's major version where the topology says (TF.js writes "tfjs-layers x.y.z", counted as 2). */
  kerasMajor: number;
  inputs: KerasInput[];
  calls: LayerCall[];
  outputs: string[];
}

type Json = Record<string, unknown>;

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

const bad = (message: string): never => {
  throw createError('MODEL_INVALID', message);
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The model config inside a TF.js `modelTopology`, whichever wrapper it comes in. */
function modelConfigOf(topology: unknown): { className: string; config: unknown } {
  if (!isObject(topology)) return bad('model.json: modelTopology is not an object');
  const inner = isObject(topology.model_config) ? topology.model_config : topology;
  if (typeof inner.class_name !== 'string') return bad('model.json: modelTopology has no class_name; is this a TF.js layers model (not a graph model)?');
  return { className: inner.class_name, config: inner.config };
}

function inputShapeOf(config: Json, where: string): KerasShape {
  const shape = config.batch_input_shape ?? config.batch_shape;
  if (Array.isArray(shape)) return shape.map((d) => (typeof d === 'number' ? d : null));
  if (Array.isArray(config.input_shape)) return [null, ...config.input_shape.map((d: unknown) => (typeof d === 'number' ? d : null))];
  return bad(`${where}: the input layer gives no batch_input_shape`);
}

class Flattener {
  readonly calls: LayerCall[] = [];
  private counter = 0;

  fresh(base: string): string {
    return `${base}#${this.counter++}`;
  }

  /** Inline a model given its input tensors; returns its output tensors. */
  model(className: string, config: unknown, scope: readonly string[], inputs: string[] | null): { inputs: KerasInput[]; outputs: string[]; name: string } {
    if (className === 'Sequential') return this.sequential(config, scope, inputs);
    if (className === 'Model' || className === 'Functional') return this.functional(config, scope, inputs);
    return bad(`model.json: the top level is a ${className}; expected Sequential, Model or Functional`);
  }

  private layerCall(layer: Json, scope: readonly string[], inputs: string[], where: string): string[] {
    const className = String(layer.class_name);
    const config = isObject(layer.config) ? layer.config : bad(`${where}: layer without a config`);
    const name = typeof config.name === 'string' ? config.name : typeof layer.name === 'string' ? layer.name : bad(`${where}: layer without a name`);
    if (MODEL_CLASSES.has(className)) {
      return this.model(className, config, [...scope, name], inputs).outputs;
    }
    const output = this.fresh([...scope, name].join('/'));
    this.calls.push({ className, name, scope, config, inputs, output });
    return [output];
  }

  private sequential(config: unknown, scope: readonly string[], given: string[] | null) {
    // Keras 2.2 wrote a bare list of layers; later versions {name, layers}.
    const layers = Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : bad('model.json: Sequential config has no layers');
    const name = isObject(config) && typeof config.name === 'string' ? config.name : (scope.at(-1) ?? 'sequential');
    const inputs: KerasInput[] = [];
    let current = given;
    for (const [i, layer] of (layers as unknown[]).entries()) {
      if (!isObject(layer)) bad(`model.json: layer ${i} of ${name} is not an object`);
      const l = layer as Json;
      const lconfig = isObject(l.config) ? l.config : {};
      if (current === null && MODEL_CLASSES.has(String(l.class_name)) && lconfig.batch_input_shape === undefined && lconfig.batch_shape === undefined) {
        // A nested model first (Teachable Machine: a Sequential holding a functional model): its own input is the input.
        const inner = this.model(String(l.class_name), lconfig, [...scope, typeof lconfig.name === 'string' ? lconfig.name : `${name}_${i}`], null);
        inputs.push(...inner.inputs);
        current = inner.outputs;
        continue;
      }
      if (current === null) {
        // The first layer declares the input, as an InputLayer or through its batch_input_shape.
        const inputName = l.class_name === 'InputLayer' && typeof lconfig.name === 'string' ? lconfig.name : `${name}_input`;
        const id = this.fresh([...scope, inputName].join('/'));
        inputs.push({ id, name: inputName, shape: inputShapeOf(lconfig, `model.json: first layer of ${name}`) });
        current = [id];
        if (l.class_name === 'InputLayer') continue;
      } else if (l.class_name === 'InputLayer') {
        continue;
      }
      current = this.layerCall(l, [...scope], current, `model.json: ${name} layer ${i}`);
    }
    if (current === null) bad(`model.json: Sequential ${name} has no layers`);
    return { inputs, outputs: current!, name };
  }

  private functional(config: unknown, scope: readonly string[], given: string[] | null) {
    if (!isObject(config) || !Array.isArray(config.layers)) return bad('model.json: functional model config has no layers');
    const name = typeof config.name === 'string' ? config.name : 'model';
    const layers = new Map<string, Json>();
    for (const layer of config.layers as unknown[]) {
      if (!isObject(layer)) return bad(`model.json: a layer of ${name} is not an object`);
      const lname = typeof layer.name === 'string' ? layer.name : isObject(layer.config) && typeof layer.config.name === 'string' ? layer.config.name : bad(`model.json: a layer of ${name} has no name`);
      layers.set(lname, layer);
    }
    const inputRefs = refList(config.input_layers, `${name}.input_layers`);
    const outputRefs = refList(config.output_layers, `${name}.output_layers`);
    if (given !== null && given.length !== inputRefs.length) bad(`model.json: ${name} takes ${inputRefs.length} inputs but is called with ${given.length}`);

    // Tensors produced so far: "layer:node:tensor" -> id.
    const produced = new Map<string, string>();
    const inputs: KerasInput[] = [];
    inputRefs.forEach((ref, i) => {
      const layer = layers.get(ref.layer) ?? bad(`model.json: ${name} input ${ref.layer} is not one of its layers`);
      const lconfig = isObject(layer.config) ? layer.config : {};
      const id = given ? given[i]! : this.fresh([...scope, ref.layer].join('/'));
      if (!given) inputs.push({ id, name: ref.layer, shape: inputShapeOf(lconfig, `model.json: input ${ref.layer}`) });
      produced.set(`${ref.layer}:0:0`, id);
    });

    // Each (layer, node) is called once all its inputs exist; repeat until nothing is left.
    type Pending = { layer: Json; lname: string; node: number; refs: TensorRef[] };
    let pending: Pending[] = [];
    for (const [lname, layer] of layers) {
      if (layer.class_name === 'InputLayer') continue;
      const nodes = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : [];
      nodes.forEach((node: unknown, index: number) => pending.push({ layer, lname, node: index, refs: nodeRefs(node, `${name}/${lname}`) }));
    }
    // Keras and TF.js number a nested model's calls after the node that built it, so its first
    // listed call is node 1 (Keras 3 Sequentials and plain layers start at 0). The references
    // tell which: a layer listing n calls that is referenced as node n starts at 1.
    const highest = new Map<string, number>();
    for (const ref of [...outputRefs, ...pending.flatMap((p) => p.refs)]) highest.set(ref.layer, Math.max(highest.get(ref.layer) ?? 0, ref.node));
    for (const p of pending) {
      const calls = countNodes(p.layer);
      if (calls > 0 && (highest.get(p.lname) ?? 0) >= calls) p.node += 1;
    }
    const lookup = (ref: TensorRef): string | undefined => {
      // An input layer has one node, whatever index a reference gives it.
      const node = layers.get(ref.layer)?.class_name === 'InputLayer' ? 0 : ref.node;
      return produced.get(`${ref.layer}:${node}:${ref.tensor}`);
    };
    while (pending.length > 0) {
      const ready = pending.filter((p) => p.refs.every((r) => lookup(r) !== undefined));
      if (ready.length === 0) {
        const p = pending[0]!;
        const missing = p.refs.filter((r) => lookup(r) === undefined).map((r) => r.layer);
        return bad(`model.json: layer ${p.lname} of ${name} takes ${missing.join(', ')}, which no layer produces (or the graph has a cycle)`);
      }
      for (const p of ready) {
        const outputs = this.layerCall(p.layer, scope, p.refs.map((r) => lookup(r)!), `model.json: ${name}/${p.lname}`);
        outputs.forEach((id, t) => produced.set(`${p.lname}:${p.node}:${t}`, id));
      }
      pending = pending.filter((p) => !ready.includes(p));
    }
    const outputs = outputRefs.map((r) => lookup(r) ?? bad(`model.json: output ${r.layer} of ${name} is never computed`));
    return { inputs, outputs, name };
  }
}

interface TensorRef {
  layer: string;
  node: number;
  tensor: number;
}

function countNodes(layer: Json | undefined): number {
  return layer && Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes.length : 0;
}

function toRef(value: unknown, where: string): TensorRef {
  if (Array.isArray(value) && typeof value[0] === 'string') {
    return { layer: value[0], node: Number(value[1] ?? 0), tensor: Number(value[2] ?? 0) };
  }
  return bad(`${where}: expected [layer, node, tensor] but found ${JSON.stringify(value)?.slice(0, 80)}`);
}

/** `[[name, n, t], ...]`, or Keras 3's bare `[name, n, t]` for a single tensor. */
function refList(value: unknown, where: string): TensorRef[] {
  if (!Array.isArray(value)) return bad(`model.json: ${where} is missing`);
  if (typeof value[0] === 'string') return [toRef(value, where)];
  return value.map((v) => toRef(v, where));
}

/** The tensors one inbound node reads, in order. */
function nodeRefs(node: unknown, where: string): TensorRef[] {
  // Keras 2: [[layer, node, tensor, kwargs], ...]
  if (Array.isArray(node)) return node.map((v) => toRef(v, where));
  // Keras 3: {args: [...], kwargs: {...}} with __keras_tensor__ entries anywhere in args.
  if (isObject(node)) {
    const refs: TensorRef[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (isObject(v)) {
        if (v.class_name === '__keras_tensor__' && isObject(v.config)) refs.push(toRef(v.config.keras_history, where));
        else Object.values(v).forEach(walk);
      }
    };
    walk(node.args);
    return refs;
  }
  return bad(`${where}: unreadable inbound node`);
}

/** Flatten a TF.js `modelTopology` into layer calls. */
export function flattenTopology(topology: unknown): KerasGraph {
  const { className, config } = modelConfigOf(topology);
  const f = new Flattener();
  const { inputs, outputs, name } = f.model(className, config, [], null);
  if (inputs.length === 0) bad('model.json: the model declares no input');
  const version = isObject(topology) && typeof topology.keras_version === 'string' ? topology.keras_version : '';
  const kerasMajor = /^3\./.test(version) ? 3 : 2;
  return { name, inputs, calls: f.calls, outputs, kerasMajor };
}
