/** Decoded pixels: 8-bit sRGB, three interleaved channels (R, G, B), row-major. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Pixels on the same 0–255 scale as floats: what a float resize (TF.js's
 * align-corners bilinear) produces. Rounding them to 8 bits would move
 * nsfwjs's scores.
 */
export interface FloatRgbImage {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** What preprocessing turns into a tensor. */
export type Pixels = RgbImage | FloatRgbImage;

/** A rectangle in pixel coordinates; it may extend past the image (centre crop of a small image). */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}
