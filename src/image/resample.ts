/**
 * A pure-JS resampler that follows Pillow's `Image.resize` bit for bit on
 * 8-bit RGB images (checked against Pillow's own output in
 * test/resample.test.ts). Pillow is what the Python stacks (torchvision on
 * PIL images, Hugging Face image processors) use, so this path gives their
 * pixels. The decode module normally resizes with sharp instead, which is
 * faster; this one serves pixels that arrive already decoded.
 *
 * The convolution kernels port ImagingResample (libImaging/Resample.c): a
 * separable convolution, horizontal pass first, whose kernel widens by the
 * scale factor when shrinking (antialiasing). For 8-bit images Pillow works in
 * fixed point: the normalised weights become integers scaled by
 * 2^PRECISION_BITS, each pass sums integers and truncates back to 8 bits.
 * Rounding the float sum instead differs from Pillow by one level on some
 * pixels, so the fixed-point arithmetic is reproduced here exactly.
 *
 * Nearest neighbour does not go through the convolution in Pillow: resize
 * turns it into an affine scale (ImagingScaleAffine in libImaging/Geometry.c),
 * which steps through source coordinates by repeated addition. That running
 * sum is reproduced too, since it can land on a different pixel than the
 * directly computed coordinate.
 */
import type { ResampleKernel, Size } from '../model/spec.ts';
import type { FloatRgbImage, RgbImage } from './pixels.ts';

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

// The filters exactly as Pillow writes them (Resample.c), asymmetries included.
/** The kernels of Pillow's algorithm (all but TF.js's align-corners). */
export type PillowKernel = Exclude<ResampleKernel, 'align-corners'>;

const FILTERS: Record<Exclude<PillowKernel, 'nearest'>, Filter> = {
  // BILINEAR: the triangle filter.
  linear: { support: 1, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  cubic: {
    support: 2,
    // BICUBIC: Keys cubic with a = -0.5.
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  // LANCZOS: sinc windowed by sinc, on the half-open interval [-3, 3).
  lanczos3: { support: 3, weight: (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/**
 * Fixed-point precision of the weights: 32 bits, less 8 for the pixel value
 * and 2 spare for sums that overshoot (negative lobes), as in Pillow.
 */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
/** Added before truncating, so that the shift rounds to nearest. */
const HALF = 1 << (PRECISION_BITS - 1);

/** For every output pixel: the first source pixel, how many it reads, and their integer weights. */
interface Coefficients {
  start: Int32Array;
  count: Int32Array;
  /** `taps` weights per output pixel, scaled by 2^PRECISION_BITS; unused slots are 0. */
  weights: Int32Array;
  taps: number;
}

/** Pillow's precompute_coeffs followed by normalize_coeffs_8bpc. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  // Pillow multiplies by the reciprocal rather than dividing by filterScale;
  // the two can differ in the last bit, so do the same.
  const invScale = 1 / filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // (int) casts in C truncate towards zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = xmax - xmin;
    let total = 0;
    for (let x = 0; x < n; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * invScale);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < n; x++) {
      const w = total !== 0 ? k[x]! / total : k[x]!;
      // Round half away from zero to an integer weight, as Pillow does.
      weights[i * taps + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[i] = xmin;
    count[i] = n;
  }
  return { start, count, weights, taps };
}

/** Pillow's clip8: drop the fraction bits (arithmetic shift, i.e. floor) and clamp to 0–255. */
const clip8 = (acc: number): number => {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** Resample along x: every row of `src` (width `srcW`) to width `outW`. */
function horizontalPass(src: Uint8Array, srcW: number, rows: number, outW: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(outW * rows * 3);
  const { start, count, weights, taps } = c;
  for (let y = 0; y < rows; y++) {
    const row = y * srcW;
    for (let x = 0; x < outW; x++) {
      const s = start[x]!;
      const n = count[x]!;
      const kBase = x * taps;
      // Integer sums: every term is below 2^31, so doubles hold them exactly.
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const w = weights[kBase + k]!;
        const p = (row + s + k) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (y * outW + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Resample along y: `src` (width `width`) to `outH` rows. */
function verticalPass(src: Uint8Array, width: number, outH: number, c: Coefficients): Uint8Array {
  const out = new Uint8Array(width * outH * 3);
  const { start, count, weights, taps } = c;
  for (let y = 0; y < outH; y++) {
    const s = start[y]!;
    const n = count[y]!;
    const kBase = y * taps;
    for (let x = 0; x < width; x++) {
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const w = weights[kBase + k]!;
        const p = ((s + k) * width + x) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (y * width + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/**
 * Source index for every output index along one axis, as ImagingScaleAffine
 * computes it: start at half a step and add the step, truncating each running
 * value. -1 marks a position outside the source (Pillow leaves it black; with
 * a plain resize this does not happen in practice).
 */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const index = new Int32Array(outSize);
  let pos = step * 0.5;
  for (let i = 0; i < outSize; i++) {
    const v = pos < 0 ? -1 : Math.trunc(pos);
    index[i] = v < inSize ? v : -1;
    pos += step;
  }
  return index;
}

function nearest(image: RgbImage, size: Size): RgbImage {
  const out = new Uint8Array(size.width * size.height * 3);
  const xs = nearestIndices(image.width, size.width);
  const ys = nearestIndices(image.height, size.height);
  for (let y = 0; y < size.height; y++) {
    const srcY = ys[y]!;
    if (srcY < 0) continue;
    for (let x = 0; x < size.width; x++) {
      const srcX = xs[x]!;
      if (srcX < 0) continue;
      const i = (srcY * image.width + srcX) * 3;
      const o = (y * size.width + x) * 3;
      out[o] = image.data[i]!;
      out[o + 1] = image.data[i + 1]!;
      out[o + 2] = image.data[i + 2]!;
    }
  }
  return { data: out, width: size.width, height: size.height };
}

/**
 * TF.js's resizeBilinear with alignCorners (cpu and wasm backends alike):
 * corner pixels map onto corner pixels, each output reads the 2x2 source
 * pixels around its position, and nothing is averaged beyond them. The
 * result stays float, as TF.js's does.
 */
export function resizeAlignCorners(image: RgbImage, size: Size): FloatRgbImage {
  const { width: inW, height: inH, data } = image;
  const out = new Float32Array(size.width * size.height * 3);
  const scaleY = size.height > 1 ? (inH - 1) / (size.height - 1) : inH / size.height;
  const scaleX = size.width > 1 ? (inW - 1) / (size.width - 1) : inW / size.width;
  const x0s = new Int32Array(size.width);
  const x1s = new Int32Array(size.width);
  const fx = new Float64Array(size.width);
  for (let x = 0; x < size.width; x++) {
    const sx = x * scaleX;
    x0s[x] = Math.max(0, Math.floor(sx));
    x1s[x] = Math.min(inW - 1, Math.ceil(sx));
    fx[x] = sx - x0s[x]!;
  }
  for (let y = 0; y < size.height; y++) {
    const sy = y * scaleY;
    const y0 = Math.max(0, Math.floor(sy));
    const y1 = Math.min(inH - 1, Math.ceil(sy));
    const fy = sy - y0;
    const row0 = y0 * inW * 3;
    const row1 = y1 * inW * 3;
    for (let x = 0; x < size.width; x++) {
      const a = x0s[x]! * 3;
      const b = x1s[x]! * 3;
      const f = fx[x]!;
      const o = (y * size.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const top = data[row0 + a + c]! + (data[row0 + b + c]! - data[row0 + a + c]!) * f;
        const bottom = data[row1 + a + c]! + (data[row1 + b + c]! - data[row1 + a + c]!) * f;
        out[o + c] = top + (bottom - top) * fy;
      }
    }
  }
  return { data: out, width: size.width, height: size.height };
}

/** Resize an RGB image to `size` with the given kernel. Returns the input when the size is unchanged. */
export function resizeRgb(image: RgbImage, size: Size, kernel: PillowKernel): RgbImage {
  if (image.width === size.width && image.height === size.height) return image;
  if (kernel === 'nearest') return nearest(image, size);
  const filter = FILTERS[kernel];
  let data = image.data;
  let width = image.width;
  // Like Pillow, skip a pass whose axis keeps its size.
  if (size.width !== image.width) {
    data = horizontalPass(data, width, image.height, size.width, coefficients(width, size.width, filter));
    width = size.width;
  }
  if (size.height !== image.height) {
    data = verticalPass(data, width, size.height, coefficients(image.height, size.height, filter));
  }
  return { data, width: size.width, height: size.height };
}
