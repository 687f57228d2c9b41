/**
 * Well-known ImageNet classifiers and where to pull them, for `imgcls pull
 * --list`. Hugging Face ids are transformers.js-layout repositories; where
 * none exists for a network, the ONNX Model Zoo's file (now hosted on the
 * hub as onnxmodelzoo/legacy_models) is given as a plain URL with a labels
 * file. `verified` says whether the listing was checked against the hub's
 * file list when this was written (the hub was not reachable from the
 * machine that wrote it; the checks were made on stored copies of its pages).
 */
export interface CuratedModel {
  network: string;
  /** What to give `imgcls pull`. */
  pull: string;
  /** For plain URLs: the labels to pass with --labels. */
  labels?: string;
  /** Flags `predict`/`serve` need for this model beyond the defaults. */
  flags?: string;
  input: string;
  verified: boolean;
  note?: string;
}

const ZOO = 'https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main';
/** Keras' ImageNet class index: {"0": ["n01440764", "tench"], ...}. */
const IMAGENET_LABELS = 'https://s3.amazonaws.com/deep-learning-models/image-models/imagenet_class_index.json';

export const CURATED_MODELS: readonly CuratedModel[] = [
  { network: 'MobileNetV2', pull: 'hf:onnx-community/mobilenet_v2_1.0_224', input: '224', verified: true, note: '1001 classes (index 0 is "background")' },
  { network: 'ResNet-50', pull: 'hf:Xenova/resnet-50', input: '224', verified: true, note: 'also --variant quantized, fp16' },
  { network: 'DenseNet-121', pull: `${ZOO}/validated/vision/classification/densenet-121/model/densenet-9.onnx`, labels: IMAGENET_LABELS, input: '224', verified: false, note: 'ONNX Model Zoo (Caffe2 export); output shape and preprocessing not checked' },
  { network: 'InceptionV3', pull: `${ZOO}/Computer_Vision/inception_v3_Opset17_timm/inception_v3_Opset17.onnx`, labels: IMAGENET_LABELS, input: '299', verified: false, note: 'ONNX Model Zoo timm export; file name inferred from the zoo\'s naming' },
  { network: 'VGG16', pull: `${ZOO}/validated/vision/classification/vgg/model/vgg16-7.onnx`, labels: IMAGENET_LABELS, input: '224', verified: true, note: 'ONNX Model Zoo, 553 MB' },
  { network: 'EfficientNet-Lite4', pull: `${ZOO}/validated/vision/classification/efficientnet-lite4/model/efficientnet-lite4-11.onnx`, labels: IMAGENET_LABELS, flags: '--scale 1 --mean 127 --std 128 --activation none', input: '224 NHWC', verified: false, note: 'ONNX Model Zoo; no transformers.js EfficientNet found; flags from the zoo\'s README, not checked' },
  { network: 'ViT-B/16', pull: 'hf:Xenova/vit-base-patch16-224', input: '224', verified: true },
  { network: 'ConvNeXt-T', pull: 'hf:Xenova/convnext-tiny-224', input: '224', verified: true, note: 'also --variant quantized, fp16' },
];
