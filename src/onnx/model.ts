/**
 * ONNX ModelProto as plain data, and its encoder. Field numbers follow
 * onnx/onnx.proto3. Only what imgcls writes is modelled: dense tensors with
 * raw data, tensor-typed inputs and outputs, and the scalar/list attributes.
 */
import { ProtoWriter } from './protobuf.ts';

export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
export type DataTypeName = keyof typeof DataType;

export interface TensorData {
  name: string;
  dims: readonly number[];
  dataType: DataTypeName;
  /** Little-endian raw bytes, as ONNX's raw_data. */
  raw: Uint8Array;
}

/** A dimension: a fixed size, or a symbolic name such as "batch". */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType: DataTypeName;
  shape: readonly Dim[];
}

export type AttributeValue = number | string | readonly number[] | readonly string[] | TensorData;

export interface NodeData {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Integers must be marked: `{int: 3}` vs a float 3. See `int()` below. */
  attributes?: Record<string, AttributeValue | IntAttr | IntsAttr>;
}

export interface IntAttr {
  kind: 'int';
  value: number;
}
export interface IntsAttr {
  kind: 'ints';
  value: readonly number[];
}
export const int = (value: number): IntAttr => ({ kind: 'int', value });
export const ints = (value: readonly number[]): IntsAttr => ({ kind: 'ints', value });

export interface GraphData {
  name: string;
  nodes: readonly NodeData[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers: readonly TensorData[];
}

export interface ModelData {
  graph: GraphData;
  opset?: number;
  producer?: string;
  metadata?: Record<string, string>;
}

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

function writeTensor(w: ProtoWriter, t: TensorData): void {
  w.packedInts(1, t.dims);
  w.int(2, DataType[t.dataType]);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DataType[v.elemType]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue | IntAttr | IntsAttr): void {
  w.string(1, name);
  if (typeof value === 'number') {
    w.float(2, value).int(20, AttrType.FLOAT);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, AttrType.STRING);
  } else if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      for (const s of value as string[]) w.string(9, s);
      w.int(20, AttrType.STRINGS);
    } else {
      w.packedFloats(7, value as number[]).int(20, AttrType.FLOATS);
    }
  } else if ('kind' in value) {
    if (value.kind === 'int') w.int(3, value.value).int(20, AttrType.INT);
    else w.packedInts(8, value.value).int(20, AttrType.INTS);
  } else {
    w.message(5, (t) => writeTensor(t, value as TensorData)).int(20, AttrType.TENSOR);
  }
}

function writeNode(w: ProtoWriter, n: NodeData): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [key, value] of Object.entries(n.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, key, value));
  }
}

/** Encode a model as ONNX protobuf bytes. */
export function encodeModel(model: ModelData): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8); // IR version 8: understood by every onnxruntime release we support
  w.string(2, model.producer ?? 'imgcls');
  w.message(7, (g) => {
    for (const n of model.graph.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, model.graph.name);
    for (const t of model.graph.initializers) g.message(5, (m) => writeTensor(m, t));
    for (const v of model.graph.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of model.graph.outputs) g.message(12, (m) => writeValueInfo(m, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, model.opset ?? 17));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (m) => m.string(1, key).string(2, value));
  }
  return w.finish();
}

/**
 * A float32 initializer from numbers. A Float32Array is not copied: the
 * tensor's bytes are a view of it, so it must not change afterwards.
 */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorData {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new RangeError(`tensor ${name}: ${data.length} values for dims [${dims.join(', ')}] (${expected} expected)`);
  }
  return { name, dims, dataType: 'FLOAT', raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** An int64 initializer (shapes, axes). */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorData {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: 'INT64', raw: new Uint8Array(data.buffer) };
}

/**
 * Builds a graph node by node, naming intermediate values. Used by the test
 * helpers' tiny models and by the Keras importer.
 */
export class GraphBuilder {
  readonly nodes: NodeData[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers: TensorData[] = [];
  private counter = 0;

  constructor(readonly name = 'graph') {}

  input(name: string, elemType: DataTypeName, shape: readonly Dim[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, elemType: DataTypeName, shape: readonly Dim[]): string {
    this.outputs.push({ name, elemType, shape });
    return name;
  }

  constant(tensor: TensorData): string {
    this.initializers.push(tensor);
    return tensor.name;
  }

  /** Add a node; returns its (first) output name. `out` names it, else one is generated. */
  op(opType: string, inputs: readonly string[], attributes?: NodeData['attributes'], out?: string): string {
    const output = out ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, inputs, outputs: [output], name: output, attributes });
    return output;
  }

  /** A builder holding the same values, nodes and initializers (the lists copied, not their items), to go on with separately. */
  copy(): GraphBuilder {
    const c = new GraphBuilder(this.name);
    for (const n of this.nodes) c.nodes.push(n);
    for (const v of this.inputs) c.inputs.push(v);
    for (const v of this.outputs) c.outputs.push(v);
    for (const t of this.initializers) c.initializers.push(t);
    c.counter = this.counter;
    return c;
  }

  build(): GraphData {
    return {
      name: this.name,
      nodes: this.nodes,
      inputs: this.inputs,
      outputs: this.outputs,
      initializers: this.initializers,
    };
  }
}
