/**
 * A model's name: what `--model name=dir` serves it under, what URLs carry
 * (`/models/{name}/predict`), and its directory in the store. A letter or
 * digit first, then letters, digits, '.', '_' or '-': no path separators.
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A name that can also be a directory in the store (and a hub organisation or repository): MODEL_NAME without `..`. */
export const isStoreName = (name: string): boolean => MODEL_NAME.test(name) && !name.includes('..');
