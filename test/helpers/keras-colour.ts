/**
 * A hand-written TF.js layers model on disk (model.json + weights.bin), the
 * Keras twin of the colour model: a 1x1 Conv2D with kernel 10·I, global
 * average pooling and softmax, so red images are "red" and so on. It is what
 * `imgcls convert` reads from a user's folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface KerasColourOptions {
  /** Write a Teachable Machine metadata.json with these labels. */
  teachableMachineLabels?: readonly string[];
  /** Replace the pooling layer's class (to provoke UNSUPPORTED_LAYER). */
  poolingClass?: string;
}

export async function writeKerasColourModel(dir: string, o: KerasColourOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const kernel = new Float32Array(9);
  for (let i = 0; i < 3; i++) kernel[i * 3 + i] = 10;
  const layers = [
    { class_name: 'InputLayer', config: { name: 'image', batch_input_shape: [null, 16, 16, 3], dtype: 'float32' } },
    {
      class_name: 'Conv2D',
      config: { name: 'mix', filters: 3, kernel_size: [1, 1], strides: [1, 1], padding: 'valid', data_format: 'channels_last', use_bias: true, activation: 'linear' },
    },
    { class_name: o.poolingClass ?? 'GlobalAveragePooling2D', config: { name: 'pool', data_format: 'channels_last' } },
    { class_name: 'Activation', config: { name: 'probabilities', activation: 'softmax' } },
  ];
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'imgcls test helper',
    modelTopology: { class_name: 'Sequential', config: { name: 'colours', layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'mix/kernel', shape: [1, 1, 3, 3], dtype: 'float32' },
          { name: 'mix/bias', shape: [3], dtype: 'float32' },
        ],
      },
    ],
  };
  const weights = new Float32Array([...kernel, 0, 0, 0]);
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(weights.buffer));
  if (o.teachableMachineLabels) {
    await writeFile(
      path.join(dir, 'metadata.json'),
      JSON.stringify({ tfjsVersion: '1.3.1', tmVersion: '2.4.5', packageVersion: '0.8.4', packageName: '@teachablemachine/image', labels: o.teachableMachineLabels, imageSize: 224 }),
    );
  }
  return path.join(dir, 'model.json');
}
