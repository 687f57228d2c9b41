/**
 * The types shared by the dataset reader's modules, and the split names both
 * sources understand. The public ones are re-exported from dataset.ts.
 */
export type Split = 'train' | 'val' | 'test' | 'all';

export interface LabelledImage {
  path: string;
  label: string;
}

export interface Dataset {
  /** Class names, sorted (the label index order a trained model will use). */
  classes: string[];
  /** 'all' when the collection has no split folders / no split column. */
  splits: Partial<Record<Split, LabelledImage[]>>;
  source: 'folder' | 'csv';
  /** Non-fatal findings, each a full sentence: skipped unreadable files, labels dropped by min-count, classes missing from a split, duplicates. */
  warnings: string[];
}

export interface DatasetOptions {
  /** CSV/TSV only: the column holding the image path or id. */
  imageColumn?: string;
  /** CSV/TSV only: the column holding the label. */
  labelColumn?: string;
  /** CSV/TSV only: the folder image paths are relative to (default: the CSV's folder, then its images/ folder). */
  imageDir?: string;
  /** CSV/TSV only: the image column holds ids; append `.<extension>` to get the file name. */
  extension?: string;
  /** CSV/TSV only: a column whose values are train, val or test. */
  splitColumn?: string;
  /** Drop labels with fewer images than this (default 1). */
  minCount?: number;
}

export const SPLIT_ORDER: readonly Split[] = ['train', 'val', 'test', 'all'];
/** Split folder names and CSV split values, lower-cased. */
export const SPLIT_NAMES: Readonly<Record<string, Split>> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  dev: 'val',
  test: 'test',
  testing: 'test',
};

/** An image found while reading, before the checks shared by both sources. */
export interface Found {
  path: string;
  label: string;
  split: Split;
  size: number;
  /** How messages name it: its path relative to the dataset, plus the label for CSV rows. */
  shown: string;
}

export interface Collected {
  source: Dataset['source'];
  /** Names the dataset in messages. */
  name: string;
  images: Found[];
  /** How messages place a split: "in train/", 'in the "train" split', or '' for 'all'. */
  where: (split: Split) => string;
  warnings: string[];
}
