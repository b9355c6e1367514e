import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { inflateRaw, inflateRawSync } from "node:zlib";
import yauzl from "yauzl";
import { ExportError } from "./errors.js";

/** Limits against hostile archives. */
export interface ZipLimits {
  /** Sum of declared uncompressed sizes over all parts. @defaultValue 20 GiB */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio for an entry over 1 MiB. @defaultValue 200 */
  maxRatio: number;
  /** Largest single entry we read into memory (posts files, media). @defaultValue 256 MiB */
  maxEntryBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxTotalBytes: 20 * 2 ** 30,
  maxRatio: 200,
  maxEntryBytes: 256 * 2 ** 20,
};

const inflate = promisify(inflateRaw);

/**
 * Entries up to this size (declared and compressed) that `read` takes whole, media mostly, are read compressed in
 * one piece and inflated in one call: through a stream, inflating an ingest's photos took about a fifth of the API's
 * CPU on its event loop (chunk callbacks).
 */
const ONE_PIECE_MAX_BYTES = 16 * 2 ** 20;
/**
 * Up to this size (compressed and inflated) an entry is inflated on the event loop, beyond it on libuv's thread
 * pool. Node's asynchronous one-call inflate builds a zlib stream per call: for 2,000 barely compressible photos of
 * 50 kB it cost 260-300 ms of CPU against 93 ms inflated synchronously, about 45 µs each on the event loop.
 */
const INFLATE_ON_LOOP_MAX_BYTES = 2 ** 20;
const STORED = 0;
const DEFLATED = 8;

const fitsOnePiece = (entry: yauzl.Entry, maxBytes: number) =>
  entry.uncompressedSize <= Math.min(maxBytes, ONE_PIECE_MAX_BYTES) &&
  entry.compressedSize <= ONE_PIECE_MAX_BYTES &&
  !entry.isEncrypted() &&
  (entry.compressionMethod === STORED || entry.compressionMethod === DEFLATED);

interface Located {
  zip: yauzl.ZipFile;
  entry: yauzl.Entry;
  part: number;
}

/** A zip's first local file header signature ("PK\x03\x04"); an empty archive starts with its end record. */
const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
/** A local file header's fixed part; the entry's name and extra field follow it, then its data. */
const LOCAL_HEADER_BYTES = 30;

/** Fills `buffer` from `position`: a read may return fewer bytes than asked (a network file system) short of EOF. */
async function readFully(file: FileHandle, buffer: Buffer, position: number): Promise<Buffer> {
  for (let done = 0; done < buffer.length; ) {
    const { bytesRead } = await file.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

/** Whether the file starts as a zip does: then a missing end record means it was cut short, not that it is no zip. */
async function startsAsZip(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(LOCAL_HEADER.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(LOCAL_HEADER);
  } finally {
    await file.close();
  }
}

function unsafe(name: string): boolean {
  return (
    name.startsWith("/") ||
    /^[a-zA-Z]:/.test(name) ||
    name.split(/[\\/]/).includes("..") ||
    name.includes("\0")
  );
}

/**
 * Several zip parts merged into one virtual tree (large exports arrive split; media and JSON may sit in any part).
 * Paths are looked up exactly, by suffix (re-zipped archives add a top folder) and by basename.
 */
export class ZipTree {
  private readonly byPath = new Map<string, Located>();
  private readonly byBase = new Map<string, string[]>();

  /** Each part's file and its length, for reading a small entry's bytes in one call (see `readInOnePiece`). */
  private readonly files: { handle: FileHandle; bytes: number }[] = [];
  private closed = false;

  private constructor(
    private readonly zips: yauzl.ZipFile[],
    private readonly limits: ZipLimits,
  ) {}

  static async open(paths: string[], limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ZipTree> {
    const zips: yauzl.ZipFile[] = [];
    const tree = new ZipTree(zips, limits);
    let total = 0;
    try {
      for (const [part, path] of paths.entries()) {
        let zip: yauzl.ZipFile;
        try {
          // strictFileNames off: we check names ourselves so the error says which entry was unsafe
          zip = await yauzl.openPromise(path, {
            lazyEntries: true,
            autoClose: false,
            strictFileNames: false,
            decodeStrings: true,
            validateEntrySizes: true,
          });
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          if (/end of central directory/i.test(msg)) {
            if (await startsAsZip(path))
              throw new ExportError(
                "truncated-zip",
                `part ${part + 1} is cut short: it starts as a zip archive but its end (the central directory) is missing; upload the whole file`,
              );
            throw new ExportError("not-a-zip", `part ${part + 1} is not a zip archive (${msg})`);
          }
          throw new ExportError("truncated-zip", `part ${part + 1} cannot be read: ${msg}`);
        }
        zips.push(zip);
        const handle = await open(path, "r");
        tree.files.push({ handle, bytes: 0 });
        tree.files[part]!.bytes = (await handle.stat()).size;
        await new Promise<void>((resolve, reject) => {
          zip.on("entry", (entry: yauzl.Entry) => {
            const name = entry.fileName;
            if (unsafe(name))
              return reject(
                new ExportError("unsafe-path", `entry ${JSON.stringify(name)} points outside the archive`),
              );
            if (!name.endsWith("/")) {
              total += entry.uncompressedSize;
              if (total > limits.maxTotalBytes)
                return reject(
                  new ExportError("zip-bomb", `archive expands to more than ${limits.maxTotalBytes} bytes`),
                );
              if (
                entry.uncompressedSize > 2 ** 20 &&
                entry.uncompressedSize > limits.maxRatio * Math.max(1, entry.compressedSize)
              )
                return reject(
                  new ExportError(
                    "zip-bomb",
                    `entry ${name} expands ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))}x (limit ${limits.maxRatio}x)`,
                  ),
                );
              const path = name.replace(/\\/g, "/");
              if (!tree.byPath.has(path)) {
                tree.byPath.set(path, { zip, entry, part });
                const base = path.slice(path.lastIndexOf("/") + 1);
                tree.byBase.set(base, [...(tree.byBase.get(base) ?? []), path]);
              }
            }
            zip.readEntry();
          });
          zip.on("end", () => resolve());
          zip.on("error", (err: Error) =>
            reject(
              /invalid relative path|absolute path|invalid characters in fileName/i.test(err.message)
                ? new ExportError("unsafe-path", `part ${part + 1}: ${err.message}`)
                : new ExportError("truncated-zip", `part ${part + 1}: ${err.message}`),
            ),
          );
          zip.readEntry();
        });
      }
    } catch (err) {
      tree.close();
      throw err;
    }
    return tree;
  }

  get paths(): string[] {
    return [...this.byPath.keys()];
  }

  /** Resolves a `uri` from a posts file: exact path, then path suffix, then basename. */
  resolve(uri: string): string | undefined {
    const clean = uri.replace(/^\.?\//, "");
    if (this.byPath.has(clean)) return clean;
    for (const p of this.byPath.keys()) if (p.endsWith(`/${clean}`)) return p;
    const base = clean.slice(clean.lastIndexOf("/") + 1);
    const candidates = this.byBase.get(base);
    return candidates?.length === 1 ? candidates[0] : undefined;
  }

  size(path: string): number {
    return this.byPath.get(path)?.entry.uncompressedSize ?? 0;
  }

  /** An entry read whole into memory (a medium, a posts file that must be parsed whole); the limits of `stream`. */
  async read(path: string, maxBytes = this.limits.maxEntryBytes): Promise<Buffer> {
    if (this.closed) throw new Error(`cannot read ${path}: the archive is closed`);
    const loc = this.byPath.get(path);
    if (loc && fitsOnePiece(loc.entry, maxBytes)) return this.readInOnePiece(path, loc);
    const chunks: Buffer[] = [];
    for await (const c of this.stream(path, maxBytes)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /**
   * `read` of a small entry: its local header (for where its bytes start), then its compressed bytes in one read,
   * both from the tree's own handle on the part, inflated in one call and never past its declared size (which the
   * caller reserved memory for). Through yauzl's read stream an entry took several reads and stream callbacks:
   * reading an export's photos cost about three times the CPU.
   */
  private async readInOnePiece(path: string, { entry, part }: Located): Promise<Buffer> {
    const truncated = (err: unknown) =>
      new ExportError("truncated-zip", `entry ${path}: ${err instanceof Error ? err.message : String(err)}`);
    const file = this.files[part]!;
    let data = Buffer.allocUnsafe(entry.compressedSize);
    try {
      const header = await readFully(
        file.handle,
        Buffer.alloc(LOCAL_HEADER_BYTES),
        entry.relativeOffsetOfLocalHeader,
      );
      if (!header.subarray(0, 4).equals(LOCAL_HEADER)) throw new Error("invalid local file header signature");
      const start =
        entry.relativeOffsetOfLocalHeader +
        LOCAL_HEADER_BYTES +
        header.readUInt16LE(26) +
        header.readUInt16LE(28);
      if (start + entry.compressedSize > file.bytes)
        throw new Error(
          `its data overflows the part (${start} + ${entry.compressedSize} > ${file.bytes} bytes)`,
        );
      await readFully(file.handle, data, start);
    } catch (err) {
      throw truncated(err);
    }
    if (entry.compressionMethod === DEFLATED)
      try {
        const options = { maxOutputLength: entry.uncompressedSize + 1 };
        // bounded both ways: empty deflate blocks make input that inflates to nothing, and still takes time
        const small =
          entry.uncompressedSize <= INFLATE_ON_LOOP_MAX_BYTES &&
          entry.compressedSize <= INFLATE_ON_LOOP_MAX_BYTES;
        data = small ? inflateRawSync(data, options) : await inflate(data, options);
      } catch (err) {
        // as a streamed entry fails on its byte count (the declared size is within maxBytes)
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
          throw truncated(new Error(`it expands past its declared ${entry.uncompressedSize} bytes`));
        throw truncated(err);
      }
    // as yauzl's validateEntrySizes checks a streamed entry
    if (data.length !== entry.uncompressedSize)
      throw truncated(new Error(`expected ${entry.uncompressedSize} bytes, the entry holds ${data.length}`));
    return data;
  }

  /**
   * An entry inflated chunk by chunk, opened on the first pull. Past `maxBytes` (declared or inflated) it is a
   * `zip-bomb`; an entry that cannot be inflated is `truncated-zip`. Stopping early closes the entry's stream.
   */
  async *stream(path: string, maxBytes = this.limits.maxEntryBytes): AsyncGenerator<Buffer> {
    if (this.closed) throw new Error(`cannot read ${path}: the archive is closed`);
    const loc = this.byPath.get(path);
    if (!loc) throw new Error(`no entry ${path}`);
    if (loc.entry.uncompressedSize > maxBytes)
      throw new ExportError(
        "zip-bomb",
        `entry ${path} is ${loc.entry.uncompressedSize} bytes (limit ${maxBytes})`,
      );
    const truncated = (err: unknown) =>
      new ExportError("truncated-zip", `entry ${path}: ${err instanceof Error ? err.message : String(err)}`);
    let stream: Readable;
    try {
      stream = await loc.zip.openReadStreamPromise(loc.entry);
    } catch (err) {
      throw truncated(err);
    }
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let n = 0;
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch (err) {
          throw truncated(err);
        }
        if (next.done) return;
        n += next.value.length;
        if (n > maxBytes) throw new ExportError("zip-bomb", `entry ${path} expands past ${maxBytes} bytes`);
        yield next.value;
      }
    } finally {
      stream.destroy();
    }
  }

  /** Closes the parts: a read started later fails (an ingest given up may still have reads queued). */
  close(): void {
    this.closed = true;
    for (const z of this.zips) z.close();
    for (const f of this.files) void f.handle.close().catch(() => {});
  }
}
