import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FileBody } from "@lxtag/storage";

/** What the spool says about a batch's sources once every one of them is in S3. */
interface Manifest {
  parts: { key: string; file: string; bytes: number }[];
}

const MANIFEST = "manifest.json";
/** Batch folders are named by batch id (a UUID): nothing else in the spool's folder is taken for one. */
const BATCH_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A folder written to this recently is left alone by a sweep (its batch row may not be written yet). */
const SETTLE_MS = 60_000;
/** Batch states in which an ingest may still read the batch's copies. */
const INGESTIBLE = new Set(["uploading", "queued", "ingesting"]);

/** What a sweep goes by (see `UploadSpool.sweep`). */
export interface SweepPolicy {
  /** The batch's state, or null when it no longer exists. */
  stateOf: (batchId: string) => Promise<string | null>;
  /** An unsealed folder silent this long belongs to an upload no process finishes any more. */
  abandonedAfterMs: number;
  /** Bytes the spool may hold; past them, the oldest copies of queued batches go. */
  maxBytes: number;
}

/**
 * Local copies of what clients upload, one folder per batch (`<dir>/<batchId>/`). An upload is written here first,
 * hashed as it is written, then stored in S3 in one signed PUT from the file (no multipart parts for the server to
 * join); once every part is in S3 the folder gets a manifest. The ingest job, when it runs on the same host, reads
 * the copies instead of downloading the parts again (`copies`), and removes the folder when it is done. S3 stays
 * the record: a copy that is missing, changed in size or not sealed is never used, and a batch ingested elsewhere
 * (another replica) downloads its parts as before; `sweep` removes what no ingest will take.
 */
export class UploadSpool {
  constructor(readonly dir: string) {}

  /** Writes `body` to the batch's folder as `name`; resolves with the file's path, length and SHA-256. */
  async write(batchId: string, name: string, body: Readable): Promise<FileBody> {
    const folder = this.folder(batchId);
    await mkdir(folder, { recursive: true });
    const path = join(folder, name);
    const hash = createHash("sha256");
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(body, tap, createWriteStream(path));
    return { path, bytes, sha256: hash.digest("hex") };
  }

  /** Records that the batch's sources are in S3 as `parts` (each the copy of the file beside it). */
  async seal(batchId: string, parts: { key: string; file: FileBody }[]): Promise<void> {
    const manifest: Manifest = {
      parts: parts.map(({ key, file }) => ({ key, file: file.path, bytes: file.bytes })),
    };
    await writeFile(join(this.folder(batchId), MANIFEST), JSON.stringify(manifest));
  }

  /**
   * The local copies of `keys`, in their order, when this host holds a sealed copy of each at the length S3 got;
   * else undefined (the caller downloads them).
   */
  async copies(batchId: string, keys: readonly string[]): Promise<string[] | undefined> {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(this.folder(batchId), MANIFEST), "utf8")) as Manifest;
    } catch {
      return undefined; // not received here, not sealed, or already taken
    }
    const byKey = new Map(manifest.parts.map((p) => [p.key, p]));
    const paths: string[] = [];
    for (const key of keys) {
      const part = byKey.get(key);
      if (!part) return undefined;
      const size = await stat(part.file).then(
        (s) => s.size,
        () => -1,
      );
      if (size !== part.bytes) return undefined;
      paths.push(part.file);
    }
    return paths;
  }

  /** Removes the batch's folder, whatever it holds. */
  async remove(batchId: string): Promise<void> {
    await rm(this.folder(batchId), { recursive: true, force: true });
  }

  /**
   * Removes what no ingest on this host will take: a sealed copy whose batch may no longer be ingested (ingested by
   * another replica, failed, deleted), and an unsealed folder (an upload this process did not finish: it was killed)
   * nothing was written to for `abandonedAfterMs` (a part still coming in is written to all along). Past `maxBytes`
   * in all, the oldest copies of batches still queued go too (their ingest downloads the parts). Folders written to
   * in the last minute are left alone. Returns how many went.
   */
  async sweep(policy: SweepPolicy, now = Date.now()): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    let kept = 0;
    const queued: { name: string; written: number; bytes: number }[] = [];
    for (const name of names.filter((n) => BATCH_DIR.test(n))) {
      const folder = join(this.dir, name);
      const entries = await readdir(folder).catch(() => [] as string[]);
      const stats = await Promise.all(
        [folder, ...entries.map((e) => join(folder, e))].map((p) => stat(p).catch(() => undefined)),
      );
      const written = Math.max(...stats.map((s) => s?.mtimeMs ?? 0));
      const bytes = stats.slice(1).reduce((sum, s) => sum + (s?.size ?? 0), 0);
      const idle = now - written;
      let gone = false;
      if (idle >= SETTLE_MS) {
        if (!entries.includes(MANIFEST)) gone = idle > policy.abandonedAfterMs;
        else {
          const state = await policy.stateOf(name);
          gone = !INGESTIBLE.has(state ?? "deleted");
          if (state === "queued") queued.push({ name, written, bytes });
        }
      }
      if (gone) {
        await this.remove(name);
        removed++;
      } else kept += bytes;
    }
    for (const copy of queued.sort((a, b) => a.written - b.written)) {
      if (kept <= policy.maxBytes) break;
      await this.remove(copy.name);
      kept -= copy.bytes;
      removed++;
    }
    return removed;
  }

  private folder(batchId: string): string {
    if (!BATCH_DIR.test(batchId)) throw new RangeError(`not a batch id: ${JSON.stringify(batchId)}`);
    return join(this.dir, batchId);
  }
}
