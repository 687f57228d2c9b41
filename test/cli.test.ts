import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cli } from './helpers/cli.ts';
import { FIXTURES, fx, HF_COLOUR as HF, tempDir } from './helpers/models.ts';

const ROOT = path.join(import.meta.dirname, '..');
const run = promisify(execFile);

describe('imgcls predict', () => {
  test('--json: one object per image per line, in argument order', async () => {
    const r = await cli('predict', '--model', HF, '--json', '--top-k', '2', fx('red.jpg'), fx('green.png'));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out.length, 2);
    const lines = r.out.map((l) => JSON.parse(l));
    assert.equal(lines[0].file, fx('red.jpg'));
    assert.deepEqual(Object.keys(lines[0]), ['file', 'predictions']);
    assert.deepEqual(Object.keys(lines[0].predictions[0]), ['label', 'index', 'score']);
    assert.equal(lines[0].predictions.length, 2);
    assert.equal(lines[0].predictions[0].label, 'red');
    assert.equal(lines[1].predictions[0].label, 'green');
    assert.ok(lines[0].predictions[0].score >= lines[0].predictions[1].score);
  });

  test('bad files get their own error line, the rest still run, exit code 1', async () => {
    const files = ['empty.jpg', 'red.jpg', 'truncated.jpg', 'not-an-image.png', 'missing.jpg'].map(fx);
    const r = await cli('predict', '--model', HF, '--json', ...files);
    assert.equal(r.code, 1);
    const lines = r.out.map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.error ?? l.predictions[0].label),
      ['EMPTY_IMAGE', 'red', 'CORRUPT_IMAGE', 'UNSUPPORTED_MEDIA_TYPE', 'FILE_NOT_FOUND'],
    );
    assert.match(lines[4].message, /No such file: .*missing.jpg/);
  });

  test('a folder is walked recursively for images, sorted', async () => {
    const r = await cli('predict', '--model', HF, '--json', '--top-k', '1', path.join(FIXTURES, 'models'), fx('blue.webp'));
    // The models folder holds no images; only blue.webp is classified.
    assert.equal(r.out.length, 1);
    assert.equal(JSON.parse(r.out[0]!).predictions[0].label, 'blue');
  });

  test('symlinked images in a folder are classified; symlinked folders are not followed', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await symlink(fx('red.jpg'), path.join(dir, 'linked.jpg'));
      await symlink(FIXTURES, path.join(dir, 'loop'));
      const r = await cli('predict', '--model', HF, '--json', '--top-k', '1', dir);
      assert.deepEqual(r.out.map((l) => [path.basename(JSON.parse(l).file), JSON.parse(l).predictions[0].label]), [['linked.jpg', 'red']]);
    } finally {
      await cleanup();
    }
  });

  test('a file named twice is classified twice, wherever it stands', async () => {
    const r = await cli('predict', '--model', HF, '--json', '--top-k', '1', fx('red.jpg'), fx('blue.webp'), fx('red.jpg'));
    assert.deepEqual(r.out.map((l) => JSON.parse(l).file), [fx('red.jpg'), fx('blue.webp'), fx('red.jpg')]);
  });

  test('--resampler pillow decodes at full size and resizes in JS', async () => {
    const r = await cli('predict', '--model', HF, '--json', '--top-k', '1', '--resampler', 'pillow', fx('orientation-6.jpg'), fx('green-then-red.gif'));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.out.map((l) => JSON.parse(l).predictions[0].label), ['red', 'green']);
    const bad = await cli('predict', '--model', HF, '--resampler', 'pil', fx('red.jpg'));
    assert.match(bad.err[0]!, /Expected one of sharp, pillow for --resampler but received "pil"/);
  });

  test('table output by default', async () => {
    const r = await cli('predict', '--model', HF, '--top-k', '3', fx('red.jpg'));
    assert.equal(r.code, 0);
    const lines = r.out.join('\n').split('\n');
    assert.equal(lines[0], fx('red.jpg'));
    assert.match(lines[1]!, /^ {3}1\. red {3}\s+\d+\.\d\d% {2}\(class 0\)$/);
    assert.equal(lines.length, 4);
  });

  test('table mode reports failures on stderr with a count', async () => {
    const r = await cli('predict', '--model', HF, fx('red.jpg'), fx('empty.jpg'));
    assert.equal(r.code, 1);
    assert.match(r.err[0]!, /empty.jpg: EMPTY_IMAGE: The image is empty \(0 bytes\)/);
    assert.equal(r.err[1], '1 of 2 images failed');
  });

  test('--top-k all and preprocessing overrides', async () => {
    const r = await cli('predict', '--model', HF, '--json', '--top-k', 'all', '--resize-mode', 'stretch', '--size', '16', '--activation', 'none', fx('green.png'));
    assert.equal(r.code, 0, r.err.join('\n'));
    const preds = JSON.parse(r.out[0]!).predictions;
    assert.equal(preds.length, 3);
    // activation none: scores are the raw logits, 10 × normalised channel means.
    const green = preds.find((p: { label: string }) => p.label === 'green');
    assert.ok(Math.abs(green.score - 10 * ((200 / 255 - 0.5) / 0.5)) < 1e-3, String(green.score));
  });

  test('bad options are refused with the flag named, exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--top-k', 'zero'], /Expected a positive integer for --top-k but received "zero"/],
      [['--top-k', '0'], /Expected a positive integer for --top-k but received "0"/],
      [['--size', '12y'], /Expected a size like 224 or 224x160/],
      [['--mean', '1,2'], /Expected three comma-separated numbers/],
      [['--layout', 'CHW'], /Expected one of NCHW, NHWC for --layout but received "CHW"/],
      [['--topk', '3'], /Unknown option --topk; this command takes --model/],
      [['--device', 'tpu'], /Expected one of cpu, cuda for --device/],
    ];
    for (const [flags, pattern] of cases) {
      const r = await cli('predict', '--model', HF, ...flags, fx('red.jpg'));
      assert.equal(r.code, 2, flags.join(' '));
      assert.match(r.err.join('\n'), pattern);
    }
  });

  test('a flag value that starts with "-" is a value, not an unknown option', async () => {
    const negative = await cli('predict', '--model', HF, '--json', '--mean', '-0.5', fx('red.jpg'));
    assert.equal(negative.code, 0, negative.err.join('\n'));
    assert.equal(JSON.parse(negative.out[0]!).predictions.length, 3);
    const topK = await cli('predict', '--model', HF, '--top-k', '-1', fx('red.jpg'));
    assert.equal(topK.code, 2);
    assert.match(topK.err.join('\n'), /Expected a positive integer for --top-k but received "-1"/);
  });

  test('missing model directory, unknown model name, no images', async () => {
    let r = await cli('predict', '--model', fx('nope'), fx('red.jpg'));
    assert.equal(r.code, 1);
    assert.match(r.err[0]!, /^imgcls: No model ".*nope": it is not a directory, and not a model name \(available: nsfw-mobilenet-v2, nsfw-inception-v3/);
    r = await cli('predict', '--model', 'resnet-9000', fx('red.jpg'));
    assert.equal(r.code, 1);
    assert.match(r.err[0]!, /^imgcls: No model "resnet-9000"/);
    r = await cli('predict', '--model', HF);
    assert.equal(r.code, 2);
    assert.match(r.err[0]!, /Missing required positional argument: IMAGES/);
  });
});

describe('imgcls inspect', () => {
  test('prints inputs, outputs, labels and preprocessing', async () => {
    const r = await cli('inspect', HF);
    assert.equal(r.code, 0, r.err.join('\n'));
    const text = r.out.join('\n');
    assert.match(text, /format: {5}huggingface/);
    assert.match(text, /pixel_values: float32 \[batch, 3, size, size\]/);
    assert.match(text, /logits: float32 \[batch, 3\]/);
    assert.match(text, /labels: {5}3 \(red, green, blue\)/);
    assert.match(text, /resize: {8}shorter side to 32 \(linear\)/);
    assert.match(text, /centre crop: {3}24x24/);
    assert.match(text, /mean: {10}0\.5, 0\.5, 0\.5/);
  });
  test('the directory may also be given as --model', async () => {
    const r = await cli('inspect', '--model', HF);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out.join('\n'), /format: {5}huggingface/);
  });
  test('--json', async () => {
    const r = await cli('inspect', '--json', path.join(FIXTURES, 'models', 'manifest-nhwc'));
    const info = JSON.parse(r.out.join('\n'));
    assert.equal(info.preprocess.layout, 'NHWC');
    assert.equal(info.inputName, 'input_1');
    assert.deepEqual(info.labels, ['red', 'green', 'blue']);
  });
});

describe('imgcls help', () => {
  test('--help lists the commands', async () => {
    const r = await cli('--help');
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /predict.*\n?.*inspect/s);
  });
  test('predict --help lists every option', async () => {
    const r = await cli('predict', '--help');
    const text = r.out.join('\n');
    for (const flag of ['--model', '--top-k', '--json', '--threads', '--device', '--size', '--resize', '--resize-mode', '--mean', '--std', '--scale', '--channel-order', '--layout', '--activation', '--batch-size']) {
      assert.ok(text.includes(flag), `help mentions ${flag}`);
    }
  });
  test('an unknown command names the known ones', async () => {
    const r = await cli('classify');
    assert.equal(r.code, 2);
    assert.match(r.err[0]!, /unknown command "classify"; commands are predict, inspect/);
  });
});

describe('bin/imgcls.js', () => {
  test('the installed binary runs and exits non-zero on failure', async () => {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'imgcls.js'), 'predict', '--json', '--model', HF, fx('blue.webp')]);
    assert.equal(JSON.parse(stdout).predictions[0].label, 'blue');
    await assert.rejects(run(process.execPath, [path.join(ROOT, 'bin', 'imgcls.js'), 'predict', '--model', HF, fx('empty.jpg')]), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /EMPTY_IMAGE/);
      return true;
    });
  });

  test('--device cuda without CUDA: one warning line, none of onnxruntime\'s own error blocks, and the answer', async () => {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin', 'imgcls.js'), 'predict', '--json', '--device', 'cuda', '--model', HF, fx('blue.webp')]);
    assert.equal(JSON.parse(stdout).predictions[0].label, 'blue');
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^warning: CUDA execution provider unavailable .*running on the CPU/);
  });
});
