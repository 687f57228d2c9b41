/**
 * Small validators for package files and options. Each throws a catalogued
 * error whose message quotes the field and what it accepts, in the style of
 * sharp's "Expected positive integer for width but received …".
 */
import { createError, describeValue, type ErrorCode } from '../errors.ts';

export class FieldChecker {
  constructor(
    private readonly source: string,
    private readonly code: ErrorCode = 'MODEL_INVALID',
  ) {}

  fail(field: string, expected: string, value: unknown): never {
    throw createError(this.code, `${this.source}: expected ${expected} for ${field} but received ${describeValue(value)}`);
  }

  positiveInt(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) this.fail(field, 'a positive integer', value);
    return value;
  }

  positiveNumber(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(field, 'a positive number', value);
    return value;
  }

  nonNegativeNumber(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) this.fail(field, 'a number of at least 0', value);
    return value;
  }

  boolean(field: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'true or false', value);
    return value;
  }

  string(field: string, value: unknown): string {
    if (typeof value !== 'string' || value === '') this.fail(field, 'a non-empty string', value);
    return value;
  }

  oneOf<T extends string>(field: string, value: unknown, choices: readonly T[]): T {
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(field, `one of ${choices.join(', ')}`, value);
    }
    return value as T;
  }

  /** Three channel values; a single number applies to all three. */
  triple(field: string, value: unknown, positive = false): [number, number, number] {
    const arr = typeof value === 'number' ? [value, value, value] : value;
    const ok = Array.isArray(arr) && arr.length === 3 && arr.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
    if (!ok) this.fail(field, `three ${positive ? 'positive ' : ''}numbers (one per channel, R,G,B)`, value);
    return arr as [number, number, number];
  }

  object(field: string, value: unknown): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'an object', value);
    return value as Record<string, unknown>;
  }

  /** Refuse keys we do not know, so a typo does not silently fall back to a default. */
  knownKeys(field: string, obj: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) {
        throw createError(this.code, `${this.source}: unknown key "${key}" in ${field}; known keys are ${known.join(', ')}`);
      }
    }
  }
}
