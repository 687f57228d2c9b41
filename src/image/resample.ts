/**
 * A pure-JS resampler that follows Pillow's ImagingResample: a separable
 * convolution whose kernel widens by the scale factor when shrinking
 * (antialiasing), rounding to 8 bits after each pass. Pillow is what the
 * Python stacks (torchvision on PIL images, Hugging Face image processors)
 * use, so this path gives their pixels. The decode module normally resizes
 * with sharp instead, which is faster; this one serves pixels that arrive
 * already decoded.
 */
import type { ResampleKernel, Size } from '../model/spec.ts';
import type { RgbImage } from './pixels.ts';

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
};

const FILTERS: Record<Exclude<ResampleKernel, 'nearest'>, Filter> = {
  linear: { support: 1, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  cubic: {
    support: 2,
    // Keys cubic with a = -0.5, Pillow's BICUBIC.
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos3: { support: 3, weight: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

interface Coefficients {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  taps: number;
}

function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
    let total = 0;
    for (let x = xmin; x < xmax; x++) {
      const w = filter.weight((x - center + 0.5) / filterScale);
      weights[i * taps + (x - xmin)] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < xmax - xmin; x++) weights[i * taps + x]! /= total;
    start[i] = xmin;
    count[i] = xmax - xmin;
  }
  return { start, count, weights, taps };
}

const clampByte = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** Resample along x: every row of `src` (width `srcW`) to width `outW`. */
function horizontalPass(src: Uint8Array, srcW: number, rows: number, outW: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(outW * rows * 3);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < outW; x++) {
      const s = c.start[x]!;
      const n = c.count[x]!;
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < n; k++) {
        const w = c.weights[x * c.taps + k]!;
        const p = (y * srcW + s + k) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (y * outW + x) * 3;
      out[o] = clampByte(r);
      out[o + 1] = clampByte(g);
      out[o + 2] = clampByte(b);
    }
  }
  return out;
}

/** Resample along y: `src` (width `width`) to `outH` rows. */
function verticalPass(src: Uint8Array, width: number, outH: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(width * outH * 3);
  for (let y = 0; y < outH; y++) {
    const s = c.start[y]!;
    const n = c.count[y]!;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < n; k++) {
        const w = c.weights[y * c.taps + k]!;
        const p = ((s + k) * width + x) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (y * width + x) * 3;
      out[o] = clampByte(r);
      out[o + 1] = clampByte(g);
      out[o + 2] = clampByte(b);
    }
  }
  return out;
}

function nearest(image: RgbImage, size: Size): RgbImage {
  const out = new Uint8Array(size.width * size.height * 3);
  const sx = image.width / size.width;
  const sy = image.height / size.height;
  for (let y = 0; y < size.height; y++) {
    const srcY = Math.min(image.height - 1, Math.trunc((y + 0.5) * sy));
    for (let x = 0; x < size.width; x++) {
      const srcX = Math.min(image.width - 1, Math.trunc((x + 0.5) * sx));
      const i = (srcY * image.width + srcX) * 3;
      const o = (y * size.width + x) * 3;
      out[o] = image.data[i]!;
      out[o + 1] = image.data[i + 1]!;
      out[o + 2] = image.data[i + 2]!;
    }
  }
  return { data: out, width: size.width, height: size.height };
}

/** Resize an RGB image to `size` with the given kernel. Returns the input when the size is unchanged. */
export function resizeRgb(image: RgbImage, size: Size, kernel: ResampleKernel): RgbImage {
  if (image.width === size.width && image.height === size.height) return image;
  if (kernel === 'nearest') return nearest(image, size);
  const filter = FILTERS[kernel];
  let data = image.data;
  let width = image.width;
  if (size.width !== image.width) {
    data = horizontalPass(data, width, image.height, size.width, coefficients(width, size.width, filter));
    width = size.width;
  }
  if (size.height !== image.height) {
    data = verticalPass(data, width, size.height, coefficients(image.height, size.height, filter));
  }
  return { data, width: size.width, height: size.height };
}
