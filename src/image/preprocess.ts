/**
 * Preprocessing: a pure function of decoded pixels and the package's spec,
 * returning the float tensor the model expects. No I/O, no sharp, no
 * onnxruntime: everything here is testable against hand-computed tensors.
 */
import { resizeKernel, type PreprocessSpec } from '../model/spec.ts';
import { planGeometry } from './geometry.ts';
import type { Pixels, Rect, RgbImage } from './pixels.ts';
import { resizeAlignCorners, resizeRgb } from './resample.ts';

export interface ImageTensor {
  /** Float32 values in the spec's layout, for one image (no batch axis). */
  data: Float32Array;
  /** [3, H, W] for NCHW, [H, W, 3] for NHWC. */
  dims: [number, number, number];
}

/** Copy `rect` out of `image`; pixels outside the image are zero, as Hugging Face pads a centre crop. */
export function cropRgb<T extends Pixels>(image: T, rect: Rect): T {
  const n = rect.width * rect.height * 3;
  const out = image.data instanceof Float32Array ? new Float32Array(n) : new Uint8Array(n);
  const x0 = Math.max(0, rect.left);
  const x1 = Math.min(image.width, rect.left + rect.width);
  if (x1 > x0) {
    for (let y = 0; y < rect.height; y++) {
      const srcY = rect.top + y;
      if (srcY < 0 || srcY >= image.height) continue;
      const from = (srcY * image.width + x0) * 3;
      out.set(image.data.subarray(from, from + (x1 - x0) * 3), (y * rect.width + (x0 - rect.left)) * 3);
    }
  }
  return { data: out, width: rect.width, height: rect.height } as T;
}

/**
 * Bring `image` to the model's input size: resize and centre crop as the spec
 * says. Always applies the plan: a 224×224 image under "shorter side 256, crop
 * 224" is still upscaled and cropped. Pixels that the decode module already
 * fitted with sharp skip this step and go straight to `writeTensor`.
 */
export function fitToInput(image: RgbImage, spec: PreprocessSpec): Pixels {
  const plan = planGeometry(image, spec);
  const kernel = resizeKernel(spec);
  // At the input size already, every kernel gives back the same values (align-corners reads each pixel with weight 1),
  // so the image itself is used: no float copy, and prepareImage relies on getting its input back.
  const same = image.width === plan.resized.width && image.height === plan.resized.height;
  const resized: Pixels = same ? image : kernel === 'align-corners' ? resizeAlignCorners(image, plan.resized) : resizeRgb(image, plan.resized, kernel);
  return plan.crop ? cropRgb(resized, plan.crop) : resized;
}

/**
 * Write `image` (already at the input size) into `out` at `offset` as
 * (pixel * scale - mean) / std, in the spec's channel order and layout. One
 * pass, no allocation: the batcher hands every image a slice of one buffer.
 */
export function writeTensor(image: Pixels, spec: PreprocessSpec, out: Float32Array, offset = 0): void {
  const { width, height, data } = image;
  const plane = width * height;
  if (out.length - offset < plane * 3) {
    throw new RangeError(`Expected room for ${plane * 3} values at offset ${offset} but the buffer holds ${out.length}`);
  }
  // Fold scale, mean and std into one multiply-add per value: v = p * a[c] + b[c].
  const a = [0, 1, 2].map((c) => spec.scale / spec.std[c]!);
  const b = [0, 1, 2].map((c) => -spec.mean[c]! / spec.std[c]!);
  // Output channel k reads source channel src[k]: BGR models read blue first.
  const src = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const [s0, s1, s2] = src as [number, number, number];
  const [a0, a1, a2] = [a[s0]!, a[s1]!, a[s2]!];
  const [b0, b1, b2] = [b[s0]!, b[s1]!, b[s2]!];
  if (spec.layout === 'NCHW') {
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      out[offset + i] = data[p + s0]! * a0 + b0;
      out[offset + plane + i] = data[p + s1]! * a1 + b1;
      out[offset + 2 * plane + i] = data[p + s2]! * a2 + b2;
    }
  } else {
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      const o = offset + p;
      out[o] = data[p + s0]! * a0 + b0;
      out[o + 1] = data[p + s1]! * a1 + b1;
      out[o + 2] = data[p + s2]! * a2 + b2;
    }
  }
}

/** The dims of a batch of `count` images of `width`×`height` in the spec's layout. */
export function batchDims(count: number, width: number, height: number, spec: Pick<PreprocessSpec, 'layout'>): number[] {
  return spec.layout === 'NCHW' ? [count, 3, height, width] : [count, height, width, 3];
}

/** Preprocess one image into its own tensor. */
export function preprocess(image: RgbImage, spec: PreprocessSpec): ImageTensor {
  const fitted = fitToInput(image, spec);
  const data = new Float32Array(fitted.width * fitted.height * 3);
  writeTensor(fitted, spec, data);
  const dims: [number, number, number] =
    spec.layout === 'NCHW' ? [3, fitted.height, fitted.width] : [fitted.height, fitted.width, 3];
  return { data, dims };
}
