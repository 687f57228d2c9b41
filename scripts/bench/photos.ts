/**
 * The benchmark's photos: one real photo per size class, from Debian's
 * plasma-workspace-wallpapers, so every level (engine, in-process, HTTP) and
 * every engine (imgcls, transformers.js, nsfwjs) sees the same bytes.
 *
 * - 224x224 PNG: a wallpaper photo resized to MobileNetV2's input size (the
 *   "already at input size" case of the nsfwjs comparison);
 * - 0.3 MP JPEG: made from the 4 MP one (cover crop, quality 75, baseline),
 *   because the package's 640x480.jpg is a symlink to its 2560x1600.jpg;
 * - 4 MP JPEG: the wallpaper's own 2560x1600.jpg (the transformers.js case);
 * - 12 MP JPEG: 4000x3000, generated from a 5120x2880 wallpaper (quality 90,
 *   baseline), since no packaged photo is a 12 MP JPEG.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';

export interface BenchPhoto {
  /** Short name for tables. */
  name: string;
  /** Where it came from. */
  source: string;
  bytes: Uint8Array;
  width: number;
  height: number;
  format: 'png' | 'jpeg';
  contentType: string;
  filename: string;
}

const WALLPAPERS = '/usr/share/wallpapers';
/**
 * A photo (lake shore) whose 2560x1600 JPEG is baseline 4:2:0, as cameras and
 * phones write them. Several wallpapers are progressive JPEGs, which libjpeg
 * cannot shrink while decoding. The package's smaller sizes of it
 * (640x480.jpg, ...) are symlinks to the 2560x1600 file, so the 0.3 MP photo
 * is made from it here.
 */
const PHOTO = `${WALLPAPERS}/BytheWater/contents/images`;
/** The largest packaged photos are 5120x2880 PNGs. */
const LARGE = `${WALLPAPERS}/Altai/contents/images/5120x2880.png`;

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.length);

export async function benchPhotos(): Promise<BenchPhoto[]> {
  for (const f of [`${PHOTO}/2560x1600.jpg`, LARGE]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: apt-get install -y plasma-workspace-wallpapers`);
  }
  const big = await readFile(`${PHOTO}/2560x1600.jpg`);
  // Baseline 4:2:0 at libjpeg's default quality, like the original.
  const small = await sharp(big).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 75 }).toBuffer();
  const input = await sharp(big).resize(224, 224, { fit: 'fill' }).png().toBuffer();
  const huge = await sharp(LARGE).resize(4000, 3000, { fit: 'fill' }).removeAlpha().jpeg({ quality: 90 }).toBuffer();
  const photo = (name: string, source: string, bytes: Buffer, width: number, height: number, format: 'png' | 'jpeg'): BenchPhoto => ({
    name,
    source,
    bytes: u8(bytes),
    width,
    height,
    format,
    contentType: `image/${format}`,
    filename: `photo.${format === 'png' ? 'png' : 'jpg'}`,
  });
  const photos = [
    photo('224x224 PNG', 'BytheWater 2560x1600.jpg resized', input, 224, 224, 'png'),
    photo('640x480 JPEG (0.3 MP)', 'BytheWater 2560x1600.jpg cropped and resized, q75', small, 640, 480, 'jpeg'),
    photo('2560x1600 JPEG (4.1 MP)', 'BytheWater 2560x1600.jpg', big, 2560, 1600, 'jpeg'),
    photo('4000x3000 JPEG (12 MP)', 'Altai 5120x2880.png resized, q90', huge, 4000, 3000, 'jpeg'),
  ];
  // The table's labels must be true: check every photo's real size.
  for (const p of photos) {
    const { width, height, format } = await sharp(p.bytes).metadata();
    if (width !== p.width || height !== p.height || format !== p.format) throw new Error(`bench photo "${p.name}" is really ${format} ${width}x${height}`);
  }
  return photos;
}
