/**
 * Decoding: the only module that imports sharp. Turns encoded bytes into
 * 8-bit sRGB RGB pixels, with EXIF orientation applied. Given a preprocessing
 * spec, it also resizes and crops in the same libvips pipeline, so JPEG and
 * WebP are shrunk while loading instead of being decoded at full size. Small
 * plain PNGs that need no libvips resize are decoded by png.ts instead.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { createError, isImgclsError } from '../errors.ts';
import { resizeKernel, type PreprocessSpec } from '../model/spec.ts';
import { planGeometry } from './geometry.ts';
import type { Rect, RgbImage } from './pixels.ts';
import { decodePlainPng } from './png.ts';
import { cropRgb } from './preprocess.ts';

// libvips' operation cache (up to 50 MB by default) keeps results to reuse
// for an identical operation on identical input. A server decodes each
// upload once, so the cache only holds memory.
sharp.cache(false);

// Only the loaders of accepted formats may ever see a byte. SVG is a
// rendering engine (external references, fonts, scripts of a sort), PDF and
// ImageMagick bring whole interpreters, libvips' own .v format and matrix/CSV
// loaders can read arbitrary files. Blocking the base class blocks every
// loader; unblocking a format's base class re-enables its file, buffer and
// stream variants.
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({ operation: ['VipsForeignLoadJpeg', 'VipsForeignLoadPng', 'VipsForeignLoadWebp', 'VipsForeignLoadNsgif', 'VipsForeignLoadTiff', 'VipsForeignLoadHeif'] });

/** Formats we decode, by sharp's metadata name. HEIF is accepted only with AV1 compression (AVIF). */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
export type ImageFormat = (typeof ACCEPTED_FORMATS)[number];

/** 100 megapixels: a 12 MP phone photo decodes; a 20000×20000 bomb does not. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface DecodeOptions {
  /** Resize and crop to this spec's input size in the decode pipeline. */
  spec?: PreprocessSpec;
  /** Refuse images whose header claims more pixels than this. */
  maxPixels?: number;
}

export interface DecodedImage extends RgbImage {
  /** True when the pixels are already resized and cropped to the spec's input size. */
  readonly fitted: boolean;
  readonly source: { format: ImageFormat; width: number; height: number };
}

function formatOf(meta: Metadata): ImageFormat | null {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'avif' : null;
  if (meta.format === 'jpeg' || meta.format === 'png' || meta.format === 'webp' || meta.format === 'gif' || meta.format === 'tiff') {
    return meta.format;
  }
  return null;
}

const accepted = ACCEPTED_FORMATS.join(', ');
/** An SVG document's start: optional BOM and whitespace, then an XML declaration, a comment, a doctype or the svg element. */
const SVG_START = /^\uFEFF?\s*(<\?xml|<!--|<!doctype svg|<svg)/i;

/** Map libvips' failure messages onto the catalogue. */
function decodeError(err: unknown): Error {
  if (isImgclsError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format|not in a known format|operation is blocked/i.test(message)) {
    return createError('UNSUPPORTED_MEDIA_TYPE', `The data is not an image in a supported format (${accepted})`, err);
  }
  if (/pixel limit/i.test(message)) {
    return createError('IMAGE_TOO_LARGE', `The image has more pixels than the limit allows`, err);
  }
  return createError('CORRUPT_IMAGE', `The image data is corrupt or truncated: ${message.split('\n')[0]}`, err);
}

/** One sharp instance on an accepted image, with its oriented size. */
interface Opened {
  image: Sharp;
  format: ImageFormat;
  width: number;
  height: number;
}

/**
 * Check `input` from its header and open it for decoding: the one sharp
 * instance every pipeline below chains onto.
 * @throws ImgclsError EMPTY_IMAGE, UNSUPPORTED_MEDIA_TYPE, IMAGE_TOO_LARGE.
 */
async function openAccepted(input: Uint8Array, maxPixels: number): Promise<Opened> {
  if (input.length === 0) throw createError('EMPTY_IMAGE', 'The image is empty (0 bytes)');
  // Its loader is blocked, so libvips would only say "unknown format"; people do upload SVGs, so say why.
  if (SVG_START.test(Buffer.from(input.subarray(0, 256)).toString('latin1'))) {
    throw createError('UNSUPPORTED_MEDIA_TYPE', `SVG is not accepted: it is a document for a rendering engine, not a photo; accepted formats are ${accepted}`);
  }
  // The header is read with no pixel limit, so the error below can say how
  // large the image is (with the limit, metadata() itself fails, saying
  // nothing). The pixels are decoded by a second instance with libvips' own
  // limit as well: both multiply the width and height of the first page.
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  const format = formatOf(meta);
  if (!format) {
    throw createError('UNSUPPORTED_MEDIA_TYPE', `Image format "${meta.format}" is not accepted; accepted formats are ${accepted}`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (width * height > maxPixels) {
    throw createError('IMAGE_TOO_LARGE', `The image is ${width}x${height} (${width * height} pixels); the limit is ${maxPixels} pixels`);
  }
  // pages: 1 (sharp's default, stated because it matters): an animation's first frame only.
  const image = sharp(input, { limitInputPixels: maxPixels, failOn: 'warning', autoOrient: true, pages: 1 });
  return { image, format, width, height };
}

/**
 * Decode `input` to RGB pixels.
 * @throws ImgclsError EMPTY_IMAGE for zero bytes, UNSUPPORTED_MEDIA_TYPE when
 * the bytes are not an accepted format, IMAGE_TOO_LARGE past `maxPixels`,
 * CORRUPT_IMAGE when decoding fails part-way.
 */
export async function decodeImage(input: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const spec = options.spec;
  const kernel = spec && resizeKernel(spec);
  // TF.js's align-corners resize is float and done by preprocess.ts alone: those images come back at full size, fitted: false.
  const fitted = spec !== undefined && kernel !== 'align-corners';
  // A plain PNG that libvips would neither resize nor crop is decoded without it (png.ts); anything else returns null here.
  const plain = decodePlainPng(input, (width, height) => {
    if (width * height > maxPixels) return false;
    if (!fitted) return true;
    const plan = planGeometry({ width, height }, spec);
    return plan.crop === null && plan.resized.width === width && plan.resized.height === height;
  });
  if (plain) return { ...plain, fitted, source: { format: 'png', width: plain.width, height: plain.height } };
  try {
    const { image, format, width, height } = await openAccepted(input, maxPixels);
    let pipeline = image;
    let jsCrop: Rect | null = null;
    if (fitted) {
      const plan = planGeometry({ width, height }, spec);
      if (plan.resized.width !== width || plan.resized.height !== height) {
        // libwebp's fast shrink-on-load moved pixels by up to 55 levels against
        // PIL on real photos (scripts/compare-torchvision.sh); without it WebP
        // is as close as PNG. JPEG's fast path stays within 1-2 levels.
        const fastShrinkOnLoad = format !== 'webp';
        pipeline = pipeline.resize(plan.resized.width, plan.resized.height, { fit: 'fill', kernel, fastShrinkOnLoad });
      }
      const crop = plan.crop;
      if (crop) {
        const inside = crop.left >= 0 && crop.top >= 0 && crop.left + crop.width <= plan.resized.width && crop.top + crop.height <= plan.resized.height;
        // A crop larger than the image is padded with zeros, which extract() cannot do.
        if (inside) pipeline = pipeline.extract(crop);
        else jsCrop = crop;
      }
    }
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw createError('CORRUPT_IMAGE', `Decoding produced ${info.channels} channels; expected 3`);
    }
    let decoded: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
    if (jsCrop) decoded = cropRgb(decoded, jsCrop);
    return { ...decoded, fitted, source: { format, width, height } };
  } catch (err) {
    throw decodeError(err);
  }
}

export interface Reencoded {
  data: Uint8Array;
  extension: 'jpg' | 'png';
  width: number;
  height: number;
}

/**
 * Re-encode an accepted image for storage: EXIF orientation applied, all
 * metadata dropped, first frame only. JPEG stays JPEG (quality 95), anything
 * else becomes PNG, so what is stored is pixels we decoded, never the bytes a
 * client chose.
 * @throws ImgclsError as decodeImage does.
 */
export async function reencodeImage(input: Uint8Array, options: { maxPixels?: number } = {}): Promise<Reencoded> {
  try {
    const { image, format } = await openAccepted(input, options.maxPixels ?? DEFAULT_MAX_PIXELS);
    const extension = format === 'jpeg' ? 'jpg' : 'png';
    const encoded = extension === 'jpg' ? image.jpeg({ quality: 95 }) : image.png();
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), extension, width: info.width, height: info.height };
  } catch (err) {
    throw decodeError(err);
  }
}

/**
 * A small JPEG of an accepted image, for showing it back (the web page's
 * preview without JavaScript): EXIF orientation applied, metadata dropped,
 * first frame only, transparency flattened onto white, the longer side at
 * most `maxSide` (never enlarged).
 * @throws ImgclsError as decodeImage does.
 */
export async function thumbnailJpeg(bytes: Uint8Array, maxSide: number, options: { maxPixels?: number } = {}): Promise<Uint8Array> {
  try {
    const { image } = await openAccepted(bytes, options.maxPixels ?? DEFAULT_MAX_PIXELS);
    const data = await image
      .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .jpeg({ quality: 80 })
      .toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (err) {
    throw decodeError(err);
  }
}
