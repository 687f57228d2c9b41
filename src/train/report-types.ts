/**
 * What a training run records: `report.json` holds one TrainReport, and
 * report.html draws it. Field names are snake_case, as in evaluate --json.
 */
import type { EvaluationMetrics } from './metrics.ts';

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** The learning rate at the epoch's start. */
  lr: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
}

export interface TrainReport {
  imgcls: string;
  /** ISO 8601 time the run finished. */
  created: string;
  dataset: {
    location: string;
    source: 'folder' | 'csv';
    classes: string[];
    /** Images per split and class, as used (after skipping unreadable ones). */
    counts: Record<string, Record<string, number>>;
    /** How the validation set was made: the dataset's own val split, or a held-out fraction of train. */
    validation: string;
    warnings: string[];
    /** Images that could not be read and were left out. */
    skipped: string[];
  };
  backbone: {
    name: string;
    layer: string;
    pool: string;
    dim: number;
    input: { width: number; height: number };
  };
  head: {
    /** Hidden units, or null for a linear head. */
    hidden: number | null;
    epochs: number;
    epochs_run: number;
    best_epoch: number;
    batch_size: number;
    lr: number;
    weight_decay: number;
    label_smoothing: number;
    class_weight: 'none' | 'balanced';
    patience: number;
    augment: number;
    seed: number;
  };
  timing: {
    features_seconds: number;
    features_computed: number;
    features_cached: number;
    train_seconds: number;
    total_seconds: number;
  };
  history: EpochRecord[];
  /** The kept checkpoint (best validation accuracy) on the validation set. */
  validation: EvaluationMetrics;
  /** The kept checkpoint on the test split, when the dataset has one. */
  test: EvaluationMetrics | null;
  model: { dir: string; file: string; bytes: number };
}
