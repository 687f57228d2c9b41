/** imgcls's library API: the pipeline stages and the classifier that sequences them. */
export { Classifier, type ClassifierOptions, type ClassifyResult } from './engine/classifier.ts';
export { ModelSession, type SessionOptions, type Device } from './engine/session.ts';
export { postprocess, topK, activate, type Prediction, type TopK } from './engine/postprocess.ts';
export { decodeImage, ACCEPTED_FORMATS, type DecodedImage, type DecodeOptions } from './image/decode.ts';
export { preprocess, fitToInput, writeTensor, type ImageTensor } from './image/preprocess.ts';
export type { RgbImage } from './image/pixels.ts';
export { readPackage, type ModelPackage } from './model/package.ts';
export { resolveSpec, type ResolvedSpec, type SpecOverrides } from './model/resolve.ts';
export type { ModelSpec, PreprocessSpec } from './model/spec.ts';
export { convertKeras, type KerasModel, type ConvertOptions, type Converted, type Pooling } from './keras/convert.ts';
export { loadModelJson, loadNsfwBundle, type LoadedKerasModel } from './keras/source.ts';
export { writeKerasPackage, type KerasPackageOptions } from './keras/package.ts';
export { resolveModel, ensureBuiltin, listModels, storeDir, type StoreOptions, type StoredModel } from './store/store.ts';
export { BUILTIN_MODELS, DEFAULT_MODEL } from './store/builtin.ts';
export { ImgclsError, ERROR_CODES, type ErrorCode } from './errors.ts';
export { runCli } from './cli/main.ts';
export { VERSION } from './version.ts';
