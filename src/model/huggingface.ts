/**
 * The Hugging Face / transformers.js layout: config.json (id2label) and
 * preprocessor_config.json. Field meanings follow transformers' image
 * processors; see README "Model packages" for the list we honour.
 */
import { FieldChecker } from './check.ts';
import { parseIndexMap } from './labels.ts';
import type { ModelSpec, PreprocessSpec, ResampleKernel, ResizeSpec, Size } from './spec.ts';

/** PIL resample codes as Hugging Face stores them. Box (4) and Hamming (5) fall back to bilinear. */
const PIL_RESAMPLE: Record<number, ResampleKernel> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic', 4: 'linear', 5: 'linear' };

/** Processors whose integer `size` means the shortest edge; for the others it means a square. */
const SHORTEST_EDGE_PROCESSORS = /CLIP|ConvNext|MobileNet|BiT|LeViT|PoolFormer|Siglip/i;

export function parseHuggingFace(config: unknown, preprocessor: unknown, name: string): ModelSpec {
  const cfg = new FieldChecker('config.json', 'MODEL_INVALID').object('config.json', config);
  const pre = new FieldChecker('preprocessor_config.json').object('preprocessor_config.json', preprocessor);
  if (cfg.id2label === undefined) {
    return failNoLabels();
  }
  const labels = parseIndexMap(cfg.id2label, 'config.json id2label');
  const multiLabel = cfg.problem_type === 'multi_label_classification';
  return {
    name,
    labels,
    inputName: 'pixel_values',
    outputName: 'logits',
    activation: multiLabel ? 'sigmoid' : 'softmax',
    preprocess: parsePreprocessor(pre),
    format: 'huggingface',
  };
}

function failNoLabels(): never {
  return new FieldChecker('config.json', 'LABELS_INVALID').fail('id2label', 'an object mapping class indices to names', undefined);
}

function sizeOf(check: FieldChecker, field: string, value: unknown): Size | { shortest_edge: number } {
  if (typeof value === 'number') {
    const n = check.positiveInt(field, value);
    return { width: n, height: n };
  }
  const obj = check.object(field, value);
  if (obj.shortest_edge !== undefined) return { shortest_edge: check.positiveInt(`${field}.shortest_edge`, obj.shortest_edge) };
  if (obj.height !== undefined || obj.width !== undefined) {
    return { width: check.positiveInt(`${field}.width`, obj.width), height: check.positiveInt(`${field}.height`, obj.height) };
  }
  return check.fail(field, '{shortest_edge} or {height, width}', value);
}

export function parsePreprocessor(pre: Record<string, unknown>): PreprocessSpec {
  const check = new FieldChecker('preprocessor_config.json');
  const flag = (key: string, fallback: boolean): boolean => (pre[key] === undefined ? fallback : check.boolean(key, pre[key]));

  const resample = pre.resample ?? 2;
  const kernel = (typeof resample === 'number' ? PIL_RESAMPLE[resample] : undefined) ?? check.fail('resample', 'a PIL resample code from 0 to 5', resample);
  const processorType = String(pre.image_processor_type ?? pre.feature_extractor_type ?? '');

  let size = pre.size === undefined ? { width: 224, height: 224 } : sizeOf(check, 'size', pre.size);
  if (typeof pre.size === 'number' && SHORTEST_EDGE_PROCESSORS.test(processorType)) size = { shortest_edge: pre.size };

  let resize: ResizeSpec = { mode: 'none' };
  let crop: Size | null = null;
  if (flag('do_resize', true)) {
    if ('shortest_edge' in size) {
      const edge = size.shortest_edge;
      if (pre.crop_pct !== undefined && pre.crop_pct !== null) {
        const pct = check.positiveNumber('crop_pct', pre.crop_pct);
        // ConvNeXt-style: resize the short side to edge / crop_pct, then crop
        // edge × edge; from 384 up the image is warped without cropping.
        if (edge < 384) {
          resize = { mode: 'shorter', shortestEdge: Math.floor(edge / pct), kernel };
          crop = { width: edge, height: edge };
        } else {
          resize = { mode: 'stretch', size: { width: edge, height: edge }, kernel };
        }
      } else {
        resize = { mode: 'shorter', shortestEdge: edge, kernel };
      }
    } else {
      resize = { mode: 'stretch', size, kernel };
    }
  }
  if (flag('do_center_crop', false)) {
    const c = pre.crop_size === undefined ? (crop ?? size) : sizeOf(check, 'crop_size', pre.crop_size);
    if ('shortest_edge' in c) return check.fail('crop_size', '{height, width} or an integer', pre.crop_size);
    crop = c;
  }

  const scale = flag('do_rescale', true)
    ? pre.rescale_factor === undefined
      ? 1 / 255
      : check.positiveNumber('rescale_factor', pre.rescale_factor)
    : 1;
  const normalize = flag('do_normalize', true);
  // do_convert_rgb is accepted either way: decoding always yields 3-channel
  // sRGB, which is the only input a 3-channel model can take.
  flag('do_convert_rgb', true);
  return {
    resize,
    crop,
    scale,
    mean: normalize ? check.triple('image_mean', pre.image_mean ?? 0.5) : [0, 0, 0],
    std: normalize ? check.triple('image_std', pre.image_std ?? 0.5, true) : [1, 1, 1],
    channelOrder: flag('do_flip_channel_order', false) ? 'BGR' : 'RGB',
    layout: 'NCHW',
  };
}
