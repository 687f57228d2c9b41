/**
 * One imgcls classification as the benchmarks time it: the top 5 of one
 * image, and a failure thrown rather than counted, since a benchmark that
 * times errors measures nothing.
 */
import type { Classifier, ClassifyResult } from '../../src/engine/classifier.ts';

export async function classifyTop5(classifier: Classifier, bytes: Uint8Array, name: string): Promise<Extract<ClassifyResult, { ok: true }>> {
  const [r] = await classifier.classify([bytes], { topK: 5 });
  if (!r?.ok) throw new Error(`imgcls failed on ${name}: ${r ? r.error.message : 'no result'}`);
  return r;
}
