/**
 * The models imgcls carries inside its npm dependencies, so `npm install`
 * then `imgcls predict photo.jpg` works with no network: nsfwjs's
 * MobileNetV2 (the default) and InceptionV3, converted to ONNX on first use.
 */
import { NSFWJS_PREPROCESS, type KerasPackageOptions } from '../keras/package.ts';
import type { NsfwBundle } from '../keras/source.ts';

export const NSFW_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;

export interface BuiltinModel {
  name: string;
  bundle: NsfwBundle;
  description: string;
}

export const BUILTIN_MODELS: Record<string, BuiltinModel> = {
  'nsfw-mobilenet-v2': {
    name: 'nsfw-mobilenet-v2',
    bundle: 'mobilenet_v2',
    description: "nsfwjs's MobileNetV2 (224x224): Drawing, Hentai, Neutral, Porn, Sexy",
  },
  'nsfw-inception-v3': {
    name: 'nsfw-inception-v3',
    bundle: 'inception_v3',
    description: "nsfwjs's InceptionV3 (299x299): Drawing, Hentai, Neutral, Porn, Sexy",
  },
};

export const DEFAULT_MODEL = 'nsfw-mobilenet-v2';

/** Bumped whenever what a built-in package holds changes, so stores convert again. */
export const BUILTIN_REVISION = 2;

/** `nsfw:mobilenet_v2` (the convert command's spelling) → the bundle name. */
export function nsfwSource(ref: string): NsfwBundle | null {
  const m = /^nsfw:(mobilenet_v2|inception_v3)$/.exec(ref);
  return m ? (m[1] as NsfwBundle) : null;
}

/** Package options for a built-in: nsfwjs's labels and preprocessing. */
export function builtinPackageOptions(model: BuiltinModel, stamp: string): KerasPackageOptions {
  return {
    name: model.name,
    labels: NSFW_LABELS,
    preprocess: NSFWJS_PREPROCESS,
    description: model.description,
    features: [{ layer: 'auto', pool: 'avg' }],
    metadata: { builtin: stamp, license: 'MIT (nsfwjs, Infinite Red)' },
  };
}
