/**
 * A model's name: what `--model name=dir` serves it under, what URLs carry
 * (`/models/{name}/predict`), and its directory in the store. Letters and
 * digits first, then letters, digits, '.', '_' or '-': no path separators.
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
