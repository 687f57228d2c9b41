/** The Keras layer classes the importer converts, by class name. */
import type { EmitContext, KTensor } from './context.ts';
import * as core from './layers-core.ts';
import * as merge from './layers-merge.ts';
import * as spatial from './layers-spatial.ts';

type LayerEmitter = (ctx: EmitContext, inputs: KTensor[]) => KTensor;

export const LAYERS: Record<string, LayerEmitter> = {
  Conv2D: spatial.conv2d,
  DepthwiseConv2D: spatial.depthwiseConv2d,
  SeparableConv2D: spatial.separableConv2d,
  ZeroPadding2D: spatial.zeroPadding2d,
  MaxPooling2D: spatial.maxPooling2d,
  AveragePooling2D: spatial.averagePooling2d,
  GlobalAveragePooling2D: spatial.globalAveragePooling2d,
  GlobalMaxPooling2D: spatial.globalMaxPooling2d,
  Dense: core.dense,
  BatchNormalization: core.batchNormalization,
  Activation: core.activationLayer,
  ReLU: core.relu,
  LeakyReLU: core.leakyRelu,
  ELU: core.elu,
  ThresholdedReLU: core.thresholdedRelu,
  Softmax: core.softmax,
  Flatten: core.flatten,
  Reshape: core.reshape,
  Rescaling: core.rescaling,
  Dropout: core.identity,
  SpatialDropout2D: core.identity,
  GaussianNoise: core.identity,
  GaussianDropout: core.identity,
  AlphaDropout: core.identity,
  ActivityRegularization: core.identity,
  Add: merge.add,
  Subtract: merge.subtract,
  Multiply: merge.multiply,
  Average: merge.average,
  Maximum: merge.maximum,
  Minimum: merge.minimum,
  Concatenate: merge.concatenate,
};

/** Class names as Keras 2, Keras 3 and TF.js variously spell them. */
export const LAYER_ALIASES: Record<string, string> = {
  Convolution2D: 'Conv2D',
  SeparableConvolution2D: 'SeparableConv2D',
  MaxPool2D: 'MaxPooling2D',
  AvgPool2D: 'AveragePooling2D',
  AveragePool2D: 'AveragePooling2D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};
