/**
 * One loader for every model package layout. A package is a directory:
 * 1. imgcls.json next to model.onnx (our manifest);
 * 2. Hugging Face: config.json + preprocessor_config.json + model.onnx or onnx/model.onnx;
 * 3. bare: model.onnx + labels.txt | index_to_name.json | imagenet_class_index.json.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../errors.ts';
import { parseHuggingFace } from './huggingface.ts';
import { LABEL_FILES, parseLabelsFile } from './labels.ts';
import { MANIFEST_FILE, parseManifest } from './manifest.ts';
import { imagenetPreprocess, type ModelSpec } from './spec.ts';

export interface ModelPackage {
  dir: string;
  modelPath: string;
  spec: ModelSpec;
}

const exists = async (p: string): Promise<boolean> => {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
};

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw createError('MODEL_INVALID', `${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `name` resolved against `dir`, or null when it points outside `dir` (`../x`, an absolute path). */
export function resolveInside(dir: string, name: string): string | null {
  const resolved = path.resolve(dir, name);
  const relative = path.relative(dir, resolved);
  return relative.startsWith('..') || path.isAbsolute(relative) ? null : resolved;
}

/** A file named by a package must stay inside the package directory. */
function inside(dir: string, name: string, field: string): string {
  const resolved = resolveInside(dir, name);
  if (resolved === null) throw createError('MODEL_INVALID', `${MANIFEST_FILE}: ${field} "${name}" points outside the model directory`);
  return resolved;
}

async function readLabels(file: string): Promise<string[]> {
  return parseLabelsFile(await readFile(file, 'utf8'), path.basename(file));
}

async function requireModel(candidates: string[], layout: string): Promise<string> {
  for (const c of candidates) if (await exists(c)) return c;
  throw createError('MODEL_INVALID', `The ${layout} package has no ONNX model; looked for ${candidates.map((c) => path.basename(path.dirname(c)) + '/' + path.basename(c)).join(', ')}`);
}

/**
 * The spec of a Hugging Face package in `root`: its config.json and
 * preprocessor_config.json. `name` is the model's name when the config gives none.
 * @throws ImgclsError MODEL_INVALID when preprocessor_config.json is missing,
 *   a file is not JSON, or the configs are not an image classifier.
 */
export async function readHuggingFaceSpec(root: string, name: string): Promise<ModelSpec> {
  if (!(await exists(path.join(root, 'preprocessor_config.json')))) {
    throw createError('MODEL_INVALID', `${root} has config.json but no preprocessor_config.json; the Hugging Face layout needs both`);
  }
  return parseHuggingFace(await readJson(path.join(root, 'config.json')), await readJson(path.join(root, 'preprocessor_config.json')), name);
}

/**
 * Read a model package directory.
 * @throws ImgclsError MODEL_NOT_FOUND when `dir` is not a directory,
 * MODEL_INVALID when no layout matches or a file is malformed,
 * LABELS_INVALID for a bad labels file.
 */
export async function readPackage(dir: string): Promise<ModelPackage> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info) throw createError('MODEL_NOT_FOUND', `Model directory ${dir} does not exist`);
  if (!info.isDirectory()) throw createError('MODEL_NOT_FOUND', `${dir} is not a directory; a model is a directory holding model.onnx and its labels`);
  const name = path.basename(root);

  if (await exists(path.join(root, MANIFEST_FILE))) {
    const parsed = parseManifest(await readJson(path.join(root, MANIFEST_FILE)), name);
    const labels = Array.isArray(parsed.labels) ? parsed.labels : await readLabels(inside(root, parsed.labels.file, 'labels'));
    const modelPath = await requireModel([inside(root, parsed.modelFile, 'model')], MANIFEST_FILE);
    return { dir: root, modelPath, spec: { ...parsed.spec, labels } };
  }

  if (await exists(path.join(root, 'config.json'))) {
    // `dir` as given, so messages name it as the user did.
    const spec = await readHuggingFaceSpec(dir, name);
    const modelPath = await requireModel([path.join(root, 'onnx', 'model.onnx'), path.join(root, 'model.onnx')], 'Hugging Face');
    return { dir: root, modelPath, spec };
  }

  const modelPath = path.join(root, 'model.onnx');
  if (await exists(modelPath)) {
    for (const file of LABEL_FILES) {
      const labelsPath = path.join(root, file);
      if (await exists(labelsPath)) {
        const spec: ModelSpec = {
          name,
          labels: await readLabels(labelsPath),
          inputName: null,
          outputName: null,
          activation: 'softmax',
          preprocess: imagenetPreprocess(),
          format: 'bare',
        };
        return { dir: root, modelPath, spec };
      }
    }
    throw createError('LABELS_INVALID', `${dir} has model.onnx but no labels; add one of ${LABEL_FILES.join(', ')} or an ${MANIFEST_FILE}`);
  }
  throw createError('MODEL_INVALID', `${dir} is not a model package: expected ${MANIFEST_FILE}, a Hugging Face config.json + preprocessor_config.json, or model.onnx with a labels file`);
}
