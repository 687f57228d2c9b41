/** `imgcls inspect`: what a model package holds and how its images are prepared. */
import { defineCommand } from 'citty';
import type { ResolvedSpec } from '../model/resolve.ts';
import type { GraphSignature, PreprocessSpec, TensorInfo } from '../model/spec.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, loadClassifier, modelArgs } from './options.ts';

const args = {
  dir: { type: 'positional', description: 'Model name or package directory (or --model); default: the default model', required: false },
  ...modelArgs,
  json: { type: 'boolean', description: 'Print the description as JSON' },
} as const;

function describePreprocess(p: PreprocessSpec): string[] {
  const r = p.resize;
  const resize =
    r.mode === 'none' ? 'none' : r.mode === 'stretch' ? `stretch to ${r.size.width}x${r.size.height} (${r.kernel})` : `shorter side to ${r.shortestEdge} (${r.kernel})`;
  const fmt = (t: readonly number[]) => t.map((v) => Number(v.toFixed(6))).join(', ');
  return [
    `  resize:        ${resize}`,
    `  centre crop:   ${p.crop ? `${p.crop.width}x${p.crop.height}` : 'none'}`,
    `  scale:         ${Number(p.scale.toPrecision(6))}`,
    `  mean:          ${fmt(p.mean)}`,
    `  std:           ${fmt(p.std)}`,
    `  channel order: ${p.channelOrder}`,
    `  layout:        ${p.layout}`,
  ];
}

const tensorLine = (t: TensorInfo) => `  ${t.name}: ${t.type} [${t.shape.join(', ')}]`;

export function describeModel(spec: ResolvedSpec, signature: GraphSignature, modelPath: string): string {
  const shown = spec.labels.slice(0, 10).join(', ') + (spec.labels.length > 10 ? `, … (${spec.labels.length - 10} more)` : '');
  return [
    `name:       ${spec.name}`,
    `format:     ${spec.format}`,
    `model:      ${modelPath}`,
    'inputs:',
    ...signature.inputs.map(tensorLine),
    'outputs:',
    ...signature.outputs.map(tensorLine),
    `image input: ${spec.inputName}`,
    `score output: ${spec.outputName} (activation: ${spec.activation})`,
    `labels:     ${spec.labels.length} (${shown})`,
    'preprocessing:',
    ...describePreprocess(spec.preprocess),
  ].join('\n');
}

export const inspectCommand = defineCommand({
  meta: { name: 'inspect', description: "Show a model's inputs, outputs, labels and preprocessing" },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const classifier = await loadClassifier({ ...a, model: a.dir ?? a.model }, io);
    try {
      const { spec, signature, modelPath } = classifier;
      io.out(a.json ? JSON.stringify({ ...spec, modelPath, inputs: signature.inputs, outputs: signature.outputs }, null, 2) : describeModel(spec, signature, modelPath));
    } finally {
      await classifier.close();
    }
  },
});
