import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePreprocessor } from '../src/model/huggingface.ts';
import { parseIndexMap, parseLabelsFile, parseLabelsText } from '../src/model/labels.ts';
import { readPackage } from '../src/model/package.ts';
import { resolveSpec } from '../src/model/resolve.ts';
import type { GraphSignature } from '../src/model/spec.ts';
import { Classifier } from '../src/engine/classifier.ts';
import { colourModel, tempDir, writeBarePackage, writeHfPackage, writeManifestPackage } from './helpers/models.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'models');
const HF_SPEC = (await readPackage(path.join(FIXTURES, 'hf-colour'))).spec;

/** Assert a promise rejects with a catalogued code and a message matching `pattern`. */
async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code: string; message: string }) => {
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('labels files', () => {
  test('labels.txt: one per line, CRLF and a trailing newline are fine', () => {
    assert.deepEqual(parseLabelsText('cat\r\ndog\r\n', 'labels.txt'), ['cat', 'dog']);
  });
  test('labels.txt: a blank line in the middle names its line number', () => {
    assert.throws(() => parseLabelsText('cat\n\ndog\n', 'labels.txt'), /labels.txt line 2 is blank/);
  });
  test('labels.txt: an empty file is refused', () => {
    assert.throws(() => parseLabelsText('\n', 'labels.txt'), /holds no labels/);
  });
  test('index_to_name.json: names and [wnid, name] pairs', () => {
    assert.deepEqual(parseIndexMap({ '1': 'dog', '0': 'cat' }, 'x'), ['cat', 'dog']);
    assert.deepEqual(parseIndexMap({ '0': ['n02123045', 'tabby'], '1': ['n02085620', 'Chihuahua'] }, 'x'), ['tabby', 'Chihuahua']);
  });
  test('index maps must run 0..N-1', () => {
    assert.throws(() => parseIndexMap({ '0': 'a', '2': 'b' }, 'index_to_name.json'), /key "2"; expected class indices 0 to 1/);
    assert.throws(() => parseIndexMap({ '0': 'a', x: 'b' }, 'index_to_name.json'), /key "x"/);
    assert.throws(() => parseIndexMap({ '0': ['only-one'] }, 'index_to_name.json'), /entry "0" must be a name or a \[wnid, name\] pair/);
  });
  test('a JSON array of strings is accepted; invalid JSON names the file', () => {
    assert.deepEqual(parseLabelsFile('["a","b"]', 'labels.json'), ['a', 'b']);
    assert.throws(() => parseLabelsFile('{nope', 'index_to_name.json'), /index_to_name.json is not valid JSON/);
  });
});

describe('Hugging Face preprocessor_config.json', () => {
  test('shortest_edge + crop_size + rescale + normalize', () => {
    const spec = parsePreprocessor({
      do_resize: true, size: { shortest_edge: 256 }, resample: 3, do_center_crop: true, crop_size: { height: 224, width: 224 },
      do_rescale: true, rescale_factor: 0.5, do_normalize: true, image_mean: [0.1, 0.2, 0.3], image_std: [0.4, 0.5, 0.6],
    });
    assert.deepEqual(spec.resize, { mode: 'shorter', shortestEdge: 256, kernel: 'cubic' });
    assert.deepEqual(spec.crop, { width: 224, height: 224 });
    assert.equal(spec.scale, 0.5);
    assert.deepEqual(spec.mean, [0.1, 0.2, 0.3]);
    assert.deepEqual(spec.std, [0.4, 0.5, 0.6]);
    assert.equal(spec.layout, 'NCHW');
  });
  test('size height/width stretches (ViT)', () => {
    const spec = parsePreprocessor({ size: { height: 384, width: 384 }, image_mean: 0.5, image_std: 0.5 });
    assert.deepEqual(spec.resize, { mode: 'stretch', size: { width: 384, height: 384 }, kernel: 'linear' });
    assert.equal(spec.crop, null);
    assert.deepEqual(spec.mean, [0.5, 0.5, 0.5]);
  });
  test('crop_pct: short side to edge / crop_pct, then crop edge × edge (ConvNeXt)', () => {
    const spec = parsePreprocessor({ size: { shortest_edge: 224 }, crop_pct: 0.875 });
    assert.deepEqual(spec.resize, { mode: 'shorter', shortestEdge: 256, kernel: 'linear' });
    assert.deepEqual(spec.crop, { width: 224, height: 224 });
  });
  test('crop_pct at 384 and above warps without cropping', () => {
    const spec = parsePreprocessor({ size: { shortest_edge: 384 }, crop_pct: 0.875 });
    assert.deepEqual(spec.resize, { mode: 'stretch', size: { width: 384, height: 384 }, kernel: 'linear' });
    assert.equal(spec.crop, null);
  });
  test('do_resize, do_rescale and do_normalize false', () => {
    const spec = parsePreprocessor({ do_resize: false, do_rescale: false, do_normalize: false, do_convert_rgb: false });
    assert.deepEqual(spec.resize, { mode: 'none' });
    assert.equal(spec.scale, 1);
    assert.deepEqual(spec.mean, [0, 0, 0]);
    assert.deepEqual(spec.std, [1, 1, 1]);
  });
  test('integer size means shortest edge for CLIP-like processors and a square otherwise', () => {
    assert.deepEqual(parsePreprocessor({ size: 224, image_processor_type: 'MobileNetV2ImageProcessor' }).resize, { mode: 'shorter', shortestEdge: 224, kernel: 'linear' });
    assert.deepEqual(parsePreprocessor({ size: 224, image_processor_type: 'ViTImageProcessor' }).resize, { mode: 'stretch', size: { width: 224, height: 224 }, kernel: 'linear' });
  });
  test('do_flip_channel_order gives BGR', () => {
    assert.equal(parsePreprocessor({ do_flip_channel_order: true }).channelOrder, 'BGR');
  });
  test('bad values name the field', () => {
    assert.throws(() => parsePreprocessor({ rescale_factor: -1 }), /expected a positive number for rescale_factor but received -1 of type number/);
    assert.throws(() => parsePreprocessor({ image_std: [1, 0, 1] }), /three positive numbers .* for image_std/);
    assert.throws(() => parsePreprocessor({ size: { longest_edge: 3 } }), /expected \{shortest_edge\} or \{height, width\} for size/);
    assert.throws(() => parsePreprocessor({ resample: 9 }), /PIL resample code from 0 to 5 for resample/);
  });
});

describe('readPackage: the committed fixtures', () => {
  test('Hugging Face layout with onnx/model.onnx', async () => {
    const pkg = await readPackage(path.join(FIXTURES, 'hf-colour'));
    assert.equal(pkg.spec.format, 'huggingface');
    assert.deepEqual(pkg.spec.labels, ['red', 'green', 'blue']);
    assert.equal(pkg.spec.inputName, 'pixel_values');
    assert.ok(pkg.modelPath.endsWith(path.join('onnx', 'model.onnx')));
  });
  for (const dir of ['bare-labels-txt', 'bare-index-to-name', 'bare-imagenet-class-index']) {
    test(`bare layout: ${dir}`, async () => {
      const pkg = await readPackage(path.join(FIXTURES, dir));
      assert.equal(pkg.spec.format, 'bare');
      assert.deepEqual(pkg.spec.labels, ['red', 'green', 'blue']);
      assert.deepEqual(pkg.spec.preprocess.crop, { width: 224, height: 224 });
      assert.deepEqual(pkg.spec.preprocess.resize, { mode: 'shorter', shortestEdge: 256, kernel: 'linear' });
    });
  }
  test('imgcls.json with a labels file', async () => {
    const pkg = await readPackage(path.join(FIXTURES, 'manifest-nhwc'));
    assert.equal(pkg.spec.format, 'imgcls');
    assert.equal(pkg.spec.name, 'colours-nhwc');
    assert.equal(pkg.spec.activation, 'none');
    assert.equal(pkg.spec.preprocess.layout, 'NHWC');
    assert.deepEqual(pkg.spec.preprocess.resize, { mode: 'stretch', size: { width: 64, height: 64 }, kernel: 'linear' });
  });
});

describe('readPackage: errors', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  test('a missing directory', async () => {
    await rejectsWith(readPackage(path.join(dir, 'nope')), 'MODEL_NOT_FOUND', /nope does not exist/);
  });
  test('a file instead of a directory', async () => {
    await writeFile(path.join(dir, 'file.onnx'), 'x');
    await rejectsWith(readPackage(path.join(dir, 'file.onnx')), 'MODEL_NOT_FOUND', /is not a directory/);
  });
  test('an empty directory lists the layouts', async () => {
    await mkdir(path.join(dir, 'empty'));
    await rejectsWith(readPackage(path.join(dir, 'empty')), 'MODEL_INVALID', /expected imgcls.json, a Hugging Face config.json \+ preprocessor_config.json, or model.onnx with a labels file/);
  });
  test('model.onnx without labels', async () => {
    await mkdir(path.join(dir, 'nolabels'));
    await writeFile(path.join(dir, 'nolabels', 'model.onnx'), colourModel());
    await rejectsWith(readPackage(path.join(dir, 'nolabels')), 'LABELS_INVALID', /no labels; add one of labels.txt, index_to_name.json, imagenet_class_index.json/);
  });
  test('config.json without preprocessor_config.json', async () => {
    await mkdir(path.join(dir, 'hfhalf'));
    await writeFile(path.join(dir, 'hfhalf', 'config.json'), '{}');
    await rejectsWith(readPackage(path.join(dir, 'hfhalf')), 'MODEL_INVALID', /no preprocessor_config.json/);
  });
  test('Hugging Face config without id2label', async () => {
    const d = await writeHfPackage(path.join(dir, 'hfnolabels'), colourModel(), {});
    await writeFile(path.join(d, 'config.json'), '{"architectures": ["X"]}');
    await rejectsWith(readPackage(d), 'LABELS_INVALID', /config.json: expected an object mapping class indices to names for id2label/);
  });
  test('Hugging Face layout without an ONNX file', async () => {
    await mkdir(path.join(dir, 'hfnomodel'));
    await writeFile(path.join(dir, 'hfnomodel', 'config.json'), '{"id2label": {"0": "a"}}');
    await writeFile(path.join(dir, 'hfnomodel', 'preprocessor_config.json'), '{}');
    await rejectsWith(readPackage(path.join(dir, 'hfnomodel')), 'MODEL_INVALID', /no ONNX model; looked for onnx\/model.onnx, hfnomodel\/model.onnx/);
  });
  test('imgcls.json: unknown keys, bad values and paths outside the package', async () => {
    const base = { labels: ['a', 'b', 'c'], input: { width: 8, height: 8 } };
    const d1 = await writeManifestPackage(path.join(dir, 'm1'), colourModel(), { ...base, inptu: {} });
    await rejectsWith(readPackage(d1), 'MODEL_INVALID', /unknown key "inptu" in the manifest/);
    const d2 = await writeManifestPackage(path.join(dir, 'm2'), colourModel(), { ...base, input: { width: 8, height: 8, layout: 'CHW' } });
    await rejectsWith(readPackage(d2), 'MODEL_INVALID', /expected one of NCHW, NHWC for input.layout but received "CHW"/);
    const d3 = await writeManifestPackage(path.join(dir, 'm3'), colourModel(), { ...base, labels: '../../etc/passwd' });
    await rejectsWith(readPackage(d3), 'MODEL_INVALID', /labels "..\/..\/etc\/passwd" points outside the model directory/);
    const d4 = await writeManifestPackage(path.join(dir, 'm4'), colourModel(), { ...base, input: { height: 8 } });
    await rejectsWith(readPackage(d4), 'MODEL_INVALID', /expected a positive integer for input.width but received undefined/);
    const d5 = await writeManifestPackage(path.join(dir, 'm5'), colourModel(), { ...base, labels: [] });
    await rejectsWith(readPackage(d5), 'MODEL_INVALID', /non-empty array of label strings or the name of a labels file for labels/);
  });
});

describe('resolveSpec: checking the package against the graph', () => {
  const graph = (input: (number | string)[], output: (number | string)[] = ['batch', 3], names = ['pixel_values', 'logits']): GraphSignature => ({
    inputs: [{ name: names[0]!, type: 'float32', shape: input }],
    outputs: [{ name: names[1]!, type: 'float32', shape: output }],
  });

  test('a matching graph resolves names', async () => {
    const spec = resolveSpec(HF_SPEC, graph(['batch', 3, 24, 24]));
    assert.equal(spec.inputName, 'pixel_values');
    assert.equal(spec.outputName, 'logits');
  });
  test('class count against label count', async () => {
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 3, 24, 24], ['batch', 1000])), /output "logits" has 1000 classes but the package has 3 labels/);
  });
  test('channel count, with a layout hint', async () => {
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 24, 24, 3])), /has 24 channels in layout NCHW .*the graph looks NHWC/);
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 1, 24, 24])), /has 1 channels in layout NCHW \[batch, 1, 24, 24\]; imgcls feeds 3/);
  });
  test('rank', async () => {
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 1728])), /has rank 2 \[batch, 1728\]; an image input has rank 4/);
  });
  test('fixed input size against the preprocessing', async () => {
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 3, 299, 299])), /needs 299x299 images but the preprocessing produces 24x24/);
  });
  test('named input missing from the graph', async () => {
    assert.throws(() => resolveSpec(HF_SPEC, graph(['batch', 3, 24, 24], ['batch', 3], ['input', 'logits'])), /names input "pixel_values" but the graph's inputs are "input"/);
  });
  test('input type', async () => {
    const g = graph(['batch', 3, 24, 24]);
    assert.throws(() => resolveSpec(HF_SPEC, { ...g, inputs: [{ ...g.inputs[0]!, type: 'uint8' }] }), /has type uint8; imgcls feeds float32/);
  });
  test('bare packages take layout and size from the graph', async () => {
    const bare = (await readPackage(path.join(FIXTURES, 'bare-labels-txt'))).spec;
    const spec = resolveSpec(bare, graph(['N', 299, 299, 3], ['N', 3], ['input_1', 'out']));
    assert.equal(spec.preprocess.layout, 'NHWC');
    assert.deepEqual(spec.preprocess.crop, { width: 299, height: 299 });
    assert.deepEqual(spec.preprocess.resize, { mode: 'shorter', shortestEdge: 341, kernel: 'linear' });
  });
  test('overrides win over the package', async () => {
    const spec = resolveSpec(HF_SPEC, graph(['batch', 3, 'h', 'w']), {
      size: { width: 16, height: 12 }, resizeMode: 'stretch', mean: [0, 0, 0], std: [1, 1, 1], scale: 1, channelOrder: 'BGR', activation: 'sigmoid',
    });
    assert.deepEqual(spec.preprocess.resize, { mode: 'stretch', size: { width: 16, height: 12 }, kernel: 'linear' });
    assert.equal(spec.preprocess.crop, null);
    assert.equal(spec.preprocess.channelOrder, 'BGR');
    assert.equal(spec.activation, 'sigmoid');
    const shorter = resolveSpec(HF_SPEC, graph(['batch', 3, 'h', 'w']), { size: { width: 299, height: 299 } });
    assert.deepEqual(shorter.preprocess.resize, { mode: 'shorter', shortestEdge: 341, kernel: 'linear' });
    const none = resolveSpec(HF_SPEC, graph(['batch', 3, 'h', 'w']), { resizeMode: 'none' });
    assert.deepEqual(none.preprocess.resize, { mode: 'none' });
  });
});

describe('Classifier.load: real graphs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  test('a corrupt ONNX file', async () => {
    const d = await writeBarePackage(path.join(dir, 'corrupt'), new TextEncoder().encode('not a protobuf at all'), 'labels.txt');
    await rejectsWith(Classifier.load(d), 'MODEL_INVALID', /onnxruntime could not load .*model.onnx/);
  });
  test('labels that do not match the output', async () => {
    const d = await writeBarePackage(path.join(dir, 'fewer'), colourModel({ size: 224 }), 'labels.txt', ['red', 'green']);
    await rejectsWith(Classifier.load(d), 'MODEL_MISMATCH', /has 3 classes but the package has 2 labels/);
  });
  test('a multi-input graph needs --input-name', async () => {
    const { GraphBuilder, encodeModel } = await import('../src/onnx/model.ts');
    const g = new GraphBuilder();
    g.input('a', 'FLOAT', ['batch', 3, 4, 4]);
    g.input('b', 'FLOAT', ['batch', 3, 4, 4]);
    g.op('Add', ['a', 'b'], undefined, 'sum');
    g.output('sum', 'FLOAT', ['batch', 3, 4, 4]);
    const d = await writeBarePackage(path.join(dir, 'twoin'), encodeModel({ graph: g.build() }), 'labels.txt');
    await rejectsWith(Classifier.load(d), 'MODEL_MISMATCH', /has 2 inputs \("a", "b"\); name the image input/);
  });
});
