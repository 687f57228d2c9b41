/**
 * Readers for labelled image collections, for `imgcls train` and
 * `imgcls evaluate`: a folder per class (optionally inside train/, val/ and
 * test/ split folders, as Keras flow_from_directory and torchvision
 * ImageFolder expect), or a CSV/TSV file with an image column and a label
 * column. Images are not decoded here; a file counts when it has an image
 * extension, is a non-empty regular file and can be opened.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createError } from '../errors.ts';
import { finish } from './dataset-checks.ts';
import { readFolder } from './dataset-folder.ts';
import { readCsv } from './dataset-table.ts';
import type { Collected, Dataset, DatasetOptions } from './dataset-types.ts';

export type { Dataset, DatasetOptions, LabelledImage, Split } from './dataset-types.ts';

/**
 * Read a labelled image collection: a folder (class folders, optionally inside
 * train/ val/ test/ split folders) or a `.csv`/`.tsv` file.
 *
 * @throws ImgclsError FILE_NOT_FOUND when `location` does not exist.
 * @throws ImgclsError FILE_UNREADABLE when the folder or CSV file cannot be read.
 * @throws ImgclsError INVALID_OPTION when the collection cannot be used: no classes,
 *   an empty class, fewer than 2 classes, CSV columns missing, no image found,
 *   the same image in two splits, a val/test class that train lacks, or a bad option.
 */
export async function loadDataset(location: string, options: DatasetOptions = {}): Promise<Dataset> {
  const minCount = options.minCount ?? 1;
  if (!Number.isInteger(minCount) || minCount < 1) {
    throw createError('INVALID_OPTION', `--min-count must be a whole number of at least 1, not ${String(options.minCount)}.`);
  }
  const root = path.resolve(location);
  const info = await stat(root).catch(() => null);
  if (!info) throw createError('FILE_NOT_FOUND', `No such dataset: ${location}`);

  let collected: Collected;
  if (info.isDirectory()) {
    const csvOnly = (['imageColumn', 'labelColumn', 'imageDir', 'extension', 'splitColumn'] as const).filter((k) => options[k] !== undefined);
    if (csvOnly.length > 0) {
      const flags = csvOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      throw createError('INVALID_OPTION', `${flags.join(', ')} only apply to a CSV or TSV dataset, but ${location} is a folder.`);
    }
    collected = await readFolder(root, location);
  } else if (/\.(csv|tsv)$/i.test(root)) {
    collected = await readCsv(root, location, options);
  } else {
    throw createError('INVALID_OPTION', `${location} is not a dataset: pass a folder of class folders, or a .csv or .tsv file.`);
  }
  return finish(collected, minCount);
}
