/**
 * Writes test/fixtures/: small named images, valid and broken. The files are
 * committed; rerun with `npm run fixtures` after changing this script.
 * Colours are chosen so the test colour model (logits = channel means) gives
 * a known answer: each fixture's name says which class it is.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { pngChunk } from '../examples/fashion-mnist/png.ts';
import { colourModel, writeBarePackage, writeHfPackage, writeManifestPackage } from '../test/helpers/models.ts';

const OUT = path.join(import.meta.dirname, '..', 'test', 'fixtures');
const W = 32;
const H = 24;
const RED = { r: 220, g: 30, b: 30 };
const GREEN = { r: 30, g: 200, b: 40 };
const BLUE = { r: 20, g: 40, b: 210 };

const solid = (c: { r: number; g: number; b: number }, width = W, height = H) =>
  sharp({ create: { width, height, channels: 3, background: c } });

/** Left half `left`, right half `right`: orientation tests need an asymmetric picture. */
async function halves(left: typeof RED, right: typeof RED, width: number, height: number): Promise<Sharp> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = x < width / 2 ? left : right;
      data.set([c.r, c.g, c.b], (y * width + x) * 3);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** A real 16-bit PNG (sharp's own rgb16 output does not rescale values), written chunk by chunk. */
function png16(width: number, height: number, rgb16: [number, number, number]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 6); // filter byte 0, then big-endian samples
    for (let x = 0; x < width; x++) rgb16.forEach((v, c) => row.writeUInt16BE(v, 1 + x * 6 + c * 2));
    rows.push(row);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const files: Record<string, Buffer | string> = {};

  files['red.jpg'] = await solid(RED).jpeg({ quality: 95 }).toBuffer();
  files['green.png'] = await solid(GREEN).png().toBuffer();
  files['blue.webp'] = await solid(BLUE).webp({ quality: 95 }).toBuffer();
  files['red.avif'] = await solid(RED).avif({ quality: 80 }).toBuffer();
  // Animated GIF: first frame green, second red. Only the first frame counts.
  files['green-then-red.gif'] = await sharp([await solid(GREEN).png().toBuffer(), await solid(RED).png().toBuffer()], { join: { animated: true } })
    .gif()
    .toBuffer();
  // Multi-page TIFF: first page blue, second red. Only the first page counts.
  files['blue-then-red.tiff'] = await sharp([await solid(BLUE).png().toBuffer(), await solid(RED).png().toBuffer()], { join: { animated: true } })
    .tiff()
    .toBuffer();
  files['red-cmyk.jpg'] = await solid(RED).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  files['grey.png'] = await solid({ r: 128, g: 128, b: 128 }).greyscale().png().toBuffer();
  files['grey-alpha.png'] = await sharp({ create: { width: W, height: H, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 0.5 } } })
    .greyscale()
    .png()
    .toBuffer();
  files['blue-rgba.png'] = await sharp({ create: { width: W, height: H, channels: 4, background: { ...BLUE, alpha: 0.5 } } }).png().toBuffer();
  // 16-bit green: 0.78 of full scale in G -> 200 after conversion to 8 bits.
  files['green-16bit.png'] = png16(W, H, [7710, 51400, 10280]);
  // EXIF orientation 6 (rotate 90° clockwise to display). Stored: left red,
  // right blue, 32x24. Displayed: 24x32, top red, bottom blue.
  files['orientation-6.jpg'] = await (await halves(RED, BLUE, W, H)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  // The same picture physically rotated, with no orientation tag.
  files['orientation-rotated.jpg'] = await (await halves(RED, BLUE, W, H)).rotate(90).jpeg({ quality: 95 }).toBuffer();

  // Bad files.
  files['empty.jpg'] = Buffer.alloc(0);
  const jpeg = files['red.jpg'] as Buffer;
  files['truncated.jpg'] = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
  // A PNG whose IDAT payload is overwritten with junk: headers parse, pixel data does not.
  const png = Buffer.from(files['green.png'] as Buffer);
  const idat = png.indexOf('IDAT');
  for (let i = idat + 4; i < Math.min(png.length - 12, idat + 40); i++) png[i] = (i * 37) & 0xff;
  files['broken.png'] = png;
  files['not-an-image.png'] = 'This is a text file with a .png name.\n';
  files['drawing.svg'] = '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="24"><rect width="32" height="24" fill="red"/></svg>\n';

  // Real photos (scikit-image's data, public domain) stretched to the default
  // model's 224x224 input, so the default-model test can feed nsfwjs and imgcls
  // the same pixels. Kept as committed when python3-skimage is not installed.
  const skimage = '/usr/lib/python3/dist-packages/skimage/data';
  for (const name of ['astronaut', 'coffee']) {
    const source = path.join(skimage, `${name}.png`);
    if (existsSync(source)) files[`photo-${name}-224.png`] = await sharp(source).resize(224, 224, { fit: 'fill' }).png().toBuffer();
    else console.warn(`${source} missing (apt-get install python3-skimage); keeping the committed photo-${name}-224.png`);
  }
  // One at its own size (451x300), which nsfwjs and imgcls must both resize.
  const chelsea = path.join(skimage, 'chelsea.png');
  if (existsSync(chelsea)) files['photo-chelsea.jpg'] = await sharp(chelsea).jpeg({ quality: 90 }).toBuffer();

  for (const [name, content] of Object.entries(files)) await writeFile(path.join(OUT, name), content);
  console.log(`wrote ${Object.keys(files).length} images to ${OUT}`);
  await writeModels(path.join(OUT, 'models'));
}

/**
 * One model package per layout, each holding the colour model (logits = 10 ×
 * channel means; classes red, green, blue), so the packages are what a user
 * would have on disk.
 */
async function writeModels(dir: string): Promise<void> {
  await writeHfPackage(path.join(dir, 'hf-colour'), colourModel(), {
    image_processor_type: 'ViTImageProcessor',
    do_resize: true,
    size: { shortest_edge: 32 },
    resample: 2,
    do_center_crop: true,
    crop_size: { height: 24, width: 24 },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    do_convert_rgb: true,
  });
  await writeBarePackage(path.join(dir, 'bare-labels-txt'), colourModel({ size: 224 }), 'labels.txt');
  await writeBarePackage(path.join(dir, 'bare-index-to-name'), colourModel({ size: 224 }), 'index_to_name.json');
  await writeBarePackage(path.join(dir, 'bare-imagenet-class-index'), colourModel({ size: 224 }), 'imagenet_class_index.json');
  // NHWC, ends in Softmax (activation none), labels in a file, stretch resize: a Keras-style export.
  await writeManifestPackage(
    path.join(dir, 'manifest-nhwc'),
    colourModel({ layout: 'NHWC', size: 64, softmax: true, inputName: 'input_1', outputName: 'probabilities' }),
    {
      name: 'colours-nhwc',
      labels: 'labels.txt',
      input: { name: 'input_1', layout: 'NHWC', width: 64, height: 64, resize: 'stretch', scale: 1 / 255 },
      output: { name: 'probabilities', activation: 'none' },
    },
    { 'labels.txt': 'red\ngreen\nblue\n' },
  );
  console.log(`wrote model packages to ${dir}`);
}

await main();
