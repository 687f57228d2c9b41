/**
 * The one error catalogue. Every failure imgcls reports on purpose has a code
 * here, with the HTTP status it maps to. CLI commands print the message and
 * exit non-zero; the server answers `{error: code, message}`.
 */
export const ERROR_CODES = {
  // Image input
  EMPTY_IMAGE: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CORRUPT_IMAGE: 422,
  IMAGE_TOO_LARGE: 413,
  FILE_NOT_FOUND: 404,
  FILE_UNREADABLE: 400,
  // Requests (HTTP)
  INVALID_REQUEST: 400,
  MISSING_IMAGE: 400,
  INVALID_BASE64: 400,
  TOO_MANY_IMAGES: 413,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  // URL fetching
  URL_FETCH_DISABLED: 403,
  URL_NOT_ALLOWED: 400,
  URL_FETCH_FAILED: 400,
  // Options and arguments
  INVALID_OPTION: 400,
  // Models
  MODEL_NOT_FOUND: 404,
  MODEL_INVALID: 500,
  UNSUPPORTED_LAYER: 422,
  MODEL_MISMATCH: 500,
  LABELS_INVALID: 500,
  INFERENCE_FAILED: 500,
  EXECUTION_PROVIDER_UNAVAILABLE: 500,
  // Model hub (imgcls pull, --model hf:...)
  HUB_UNAUTHORIZED: 401,
  HUB_FORBIDDEN: 403,
  DOWNLOAD_FAILED: 502,
  CHECKSUM_MISMATCH: 502,
  STORE_BUSY: 409,
  // Server
  INTERNAL_ERROR: 500,
  MODEL_LOADING: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ImgclsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImgclsError';
    this.code = code;
    this.status = ERROR_CODES[code];
  }
}

/** Build a catalogued error. The message names what was wrong and what is accepted. */
export function createError(code: ErrorCode, message: string, cause?: unknown): ImgclsError {
  return new ImgclsError(code, message, cause === undefined ? undefined : { cause });
}

export function isImgclsError(err: unknown): err is ImgclsError {
  return err instanceof ImgclsError;
}

/** Describe a value for an error message: `"spoons" of type string`. */
export function describeValue(value: unknown): string {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  return `${shown} of type ${type}`;
}
