// The upload spool on the local file system: what it writes, when a copy may stand in for its S3 object, and what a
// sweep removes.
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, truncate, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UploadSpool } from "./upload-spool.js";

describe("UploadSpool", () => {
  let dir: string;
  let spool: UploadSpool;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-spool-test-"));
    spool = new UploadSpool(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const chunks = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(1000 + i, i));

  it("writes a streamed part and returns its path, length and SHA-256", async () => {
    const batchId = randomUUID();
    const parts = chunks(50);
    const whole = Buffer.concat(parts);
    const file = await spool.write(batchId, "part-1.zip", Readable.from(parts));
    expect(file).toEqual({
      path: join(dir, batchId, "part-1.zip"),
      bytes: whole.length,
      sha256: createHash("sha256").update(whole).digest("hex"),
    });
    expect((await readFile(file.path)).equals(whole)).toBe(true);
  });

  it("offers a batch's copies only once sealed, whole, and for every key asked, in the keys' order", async () => {
    const batchId = randomUUID();
    const keys = ["uploads/k/b/part-1.zip", "uploads/k/b/part-2.zip"];
    const files = [
      await spool.write(batchId, "part-1.zip", Readable.from(chunks(3))),
      await spool.write(batchId, "part-2.zip", Readable.from(chunks(4))),
    ];
    expect(await spool.copies(batchId, keys)).toBeUndefined(); // still being uploaded
    await spool.seal(batchId, [
      { key: keys[0]!, file: files[0]! },
      { key: keys[1]!, file: files[1]! },
    ]);
    expect(await spool.copies(batchId, keys)).toEqual(files.map((f) => f.path));
    expect(await spool.copies(batchId, [keys[1]!, keys[0]!])).toEqual([files[1]!.path, files[0]!.path]);
    expect(await spool.copies(batchId, [...keys, "uploads/k/b/part-3.zip"])).toBeUndefined();
    expect(await spool.copies(randomUUID(), keys)).toBeUndefined();
    // a copy that is not the length S3 got is not the object
    await truncate(files[1]!.path, 10);
    expect(await spool.copies(batchId, keys)).toBeUndefined();
    await spool.remove(batchId);
    expect(existsSync(join(dir, batchId))).toBe(false);
    expect(await spool.copies(batchId, keys)).toBeUndefined();
  });

  it("sweeps batch folders nothing was written to for longer than asked, and nothing else", async () => {
    const now = Date.now();
    const [old, fresh, stillWriting] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [old, fresh, stillWriting])
      await spool.write(id, "part-1.zip", Readable.from(chunks(1)));
    const hourAgo = new Date(now - 3_600_000);
    for (const p of [join(dir, old), join(dir, old, "part-1.zip"), join(dir, stillWriting)])
      await utimes(p, hourAgo, hourAgo);
    // a folder that is not a batch's is someone else's
    await mkdir(join(dir, "not-a-batch"));
    await utimes(join(dir, "not-a-batch"), hourAgo, hourAgo);
    expect(await spool.sweep(60_000, now)).toBe(1);
    expect(existsSync(join(dir, old))).toBe(false);
    for (const kept of [fresh, stillWriting, "not-a-batch"])
      expect(existsSync(join(dir, kept)), kept).toBe(true);
    // a spool folder that does not exist yet has nothing to sweep
    expect(await new UploadSpool(join(dir, "absent")).sweep(0)).toBe(0);
  });
});
