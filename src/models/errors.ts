/** Errors of model delivery, with a code the UI can branch on and a message written for the user. */
export type ModelErrorCode =
  | 'not-found' // HTTP 404 for the manifest or a file
  | 'http' // another HTTP status that retrying does not fix
  | 'gated' // HTTP 401 from the Hugging Face Hub: a gated repository needs an access token (or the token is invalid)
  | 'licence' // HTTP 403 from the Hugging Face Hub: the token's account has not accepted the repository's licence
  | 'network' // connection failures, retried until the attempts ran out
  | 'stalled' // no bytes for too long, retried until the attempts ran out
  | 'corrupt' // sha256 mismatch after the bounded re-fetches
  | 'quota' // not enough storage (estimate before starting, or QuotaExceededError while writing)
  | 'manifest' // manifest.json missing or invalid
  | 'import' // a local folder that is not a complete, intact svd-web convert output
  | 'storage' // OPFS unavailable or failing
  | 'cancelled';

export class ModelDeliveryError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ModelDeliveryError';
  }

  toJSON(): { code: ModelErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }

  static from(x: { code: ModelErrorCode; message: string; details?: Record<string, unknown> }): ModelDeliveryError {
    return new ModelDeliveryError(x.code, x.message, x.details);
  }
}

export function isQuotaError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

export function cancelled(): ModelDeliveryError {
  return new ModelDeliveryError('cancelled', 'Cancelled. The bytes fetched so far are kept; downloading again resumes from there.');
}
