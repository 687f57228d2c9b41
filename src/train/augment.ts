/**
 * Training-time augmentation on decoded 8-bit RGB pixels, following
 * torchvision's RandomResizedCrop → RandomHorizontalFlip → ColorJitter so a
 * recipe tuned in PyTorch carries over. Every draw comes from the caller's
 * seeded `Random`, so `--seed` repeats an epoch's augmentations exactly.
 */
import type { Rect, RgbImage } from '../image/pixels.ts';
import { cropRgb } from '../image/preprocess.ts';
import type { Random } from './random.ts';

export interface AugmentOptions {
  /** Crop area as a fraction of the image's area, [min, max]. */
  scale: [number, number];
  /** Crop aspect ratio (width / height), [min, max], sampled log-uniformly. */
  ratio: [number, number];
  /** Mirror left–right with probability 0.5. */
  flip: boolean;
  /** Jitter strengths: each factor is uniform in [max(0, 1 - s), 1 + s]; 0 turns the step off. */
  brightness: number;
  contrast: number;
  saturation: number;
}

/**
 * torchvision's defaults except the crop scale: 0.08 suits training a whole
 * network, but a head on frozen features sees the backbone's view of the crop,
 * and tiny crops mostly teach it noise.
 */
export const DEFAULT_AUGMENT: AugmentOptions = {
  scale: [0.6, 1],
  ratio: [3 / 4, 4 / 3],
  flip: true,
  brightness: 0.2,
  contrast: 0.2,
  saturation: 0.2,
};

/** Python's round(): halves go to the even neighbour. torchvision's crop sizes use it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's RandomResizedCrop.get_params: up to 10 tries at a crop of
 * random area and log-uniform aspect that fits, placed uniformly; otherwise
 * the largest central crop with the aspect clamped into `ratio`. The draws
 * (area, aspect, top, left) come in torchvision's order.
 */
export function randomResizedCropRect(width: number, height: number, scale: [number, number], ratio: [number, number], rng: Random): Rect {
  if (!(width >= 1 && height >= 1)) throw new RangeError(`Cannot crop a ${width}×${height} image`);
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = width / height;
  const lo = Math.min(ratio[0], ratio[1]);
  const hi = Math.max(ratio[0], ratio[1]);
  let w = width;
  let h = height;
  if (inRatio < lo) h = roundHalfEven(w / lo);
  else if (inRatio > hi) w = roundHalfEven(h * hi);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** ITU-R 601 luma, as PIL's convert('L') and torchvision's rgb_to_grayscale use. */
const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Blend towards black: every channel times `factor`. */
function adjustBrightness(data: Float32Array, factor: number): void {
  for (let i = 0; i < data.length; i++) data[i] = clamp(data[i]! * factor);
}

/** Blend with the image's mean grey level: 0 gives flat grey, 1 the image. */
function adjustContrast(data: Float32Array, factor: number): void {
  const pixels = data.length / 3;
  let sum = 0;
  for (let p = 0; p < data.length; p += 3) sum += luma(data[p]!, data[p + 1]!, data[p + 2]!);
  const offset = pixels > 0 ? (1 - factor) * (sum / pixels) : 0;
  for (let i = 0; i < data.length; i++) data[i] = clamp(data[i]! * factor + offset);
}

/** Blend each pixel with its own grey: 0 gives greyscale, 1 the image. */
function adjustSaturation(data: Float32Array, factor: number): void {
  for (let p = 0; p < data.length; p += 3) {
    const offset = (1 - factor) * luma(data[p]!, data[p + 1]!, data[p + 2]!);
    data[p] = clamp(data[p]! * factor + offset);
    data[p + 1] = clamp(data[p + 1]! * factor + offset);
    data[p + 2] = clamp(data[p + 2]! * factor + offset);
  }
}

/** Mirror left–right into a new image. */
function flipRgb(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      out[to] = data[from]!;
      out[to + 1] = data[from + 1]!;
      out[to + 2] = data[from + 2]!;
    }
  }
  return { data: out, width, height };
}

const JITTERS = [adjustBrightness, adjustContrast, adjustSaturation] as const;

/**
 * ColorJitter as torchvision does it: a random order of the steps, then the
 * factors drawn in fixed order (brightness, contrast, saturation), skipping
 * steps whose strength is 0. Each step clamps to 0..255 as torchvision's
 * blend does, so contrast after brightness sees the clipped values; rounding
 * waits for the end so the steps do not compound 8-bit quantisation.
 */
function colourJitter(image: RgbImage, rng: Random, options: AugmentOptions): RgbImage {
  const strengths = [options.brightness, options.contrast, options.saturation];
  if (strengths.every((s) => s <= 0)) return image;
  const order = rng.shuffle([0, 1, 2]);
  const factors = strengths.map((s) => (s > 0 ? rng.uniform(Math.max(0, 1 - s), 1 + s) : undefined));
  const work = Float32Array.from(image.data);
  for (const step of order) {
    const factor = factors[step];
    if (factor !== undefined) JITTERS[step]!(work, factor);
  }
  const out = new Uint8Array(work.length);
  for (let i = 0; i < work.length; i++) out[i] = Math.round(work[i]!);
  return { data: out, width: image.width, height: image.height };
}

/**
 * One augmented copy of `image`: random resized crop (left at its own size:
 * the model's preprocessing resizes it later), a coin-flip mirror, then
 * colour jitter. Never mutates `image`; the same rng state gives the same bytes.
 */
export function augment(image: RgbImage, rng: Random, options: AugmentOptions = DEFAULT_AUGMENT): RgbImage {
  // cropRgb always copies, so everything after it may own its buffer.
  let out = cropRgb(image, randomResizedCropRect(image.width, image.height, options.scale, options.ratio, rng));
  if (options.flip && rng.next() < 0.5) out = flipRgb(out);
  return colourJitter(out, rng, options);
}
