/** A blocklist or alias file that cannot be read as one: names the file and, when one is at fault, the line. */
export class DataListFileError extends Error {
  override name = "DataListFileError";
  constructor(
    readonly path: string,
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(`${path}${line === null ? "" : `:${line}`}: ${reason}`);
  }
}
