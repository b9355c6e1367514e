export type ExportErrorCode =
  | "not-a-zip"
  | "truncated-zip"
  | "no-posts-file"
  | "unsafe-path"
  | "zip-bomb"
  | "invalid-json"
  | "invalid-posts-file";

/** Why a whole upload cannot be read; the batch fails with this code and message. */
export class ExportError extends Error {
  override name = "ExportError";
  constructor(
    readonly code: ExportErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
