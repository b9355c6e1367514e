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

  it("sweeps sealed copies no ingest will take, and unfinished uploads silent for too long; nothing else", async () => {
    const now = Date.now();
    const hourAgo = new Date(now - 3_600_000);
    const folder = async (sealed: boolean, age: Date | null) => {
      const id = randomUUID();
      const file = await spool.write(id, "part-1.zip", Readable.from(chunks(1)));
      if (sealed) await spool.seal(id, [{ key: `uploads/k/${id}/part-1.zip`, file }]);
      if (age)
        for (const p of [join(dir, id), file.path, join(dir, id, "manifest.json")])
          await utimes(p, age, age).catch(() => {});
      return id;
    };
    const ingestedElsewhere = await folder(true, hourAgo);
    const stillQueued = await folder(true, hourAgo);
    const justSealed = await folder(true, null); // its batch row may not be written yet
    const abandoned = await folder(false, hourAgo);
    const stillComing = await folder(false, null);
    // a folder that is not a batch's is someone else's
    await mkdir(join(dir, "not-a-batch"));
    await utimes(join(dir, "not-a-batch"), hourAgo, hourAgo);
    const asked: string[] = [];
    const waiting = async (id: string) => {
      asked.push(id);
      return id === stillQueued;
    };
    expect(await spool.sweep(waiting, 1_800_000, now)).toBe(2);
    expect(asked.sort()).toEqual([ingestedElsewhere, stillQueued].sort());
    for (const gone of [ingestedElsewhere, abandoned]) expect(existsSync(join(dir, gone)), gone).toBe(false);
    for (const kept of [stillQueued, justSealed, stillComing, "not-a-batch"])
      expect(existsSync(join(dir, kept)), kept).toBe(true);
    // a spool folder that does not exist yet has nothing to sweep
    expect(await new UploadSpool(join(dir, "absent")).sweep(waiting, 0)).toBe(0);
  });

  it("takes only batch ids for folder names", async () => {
    for (const id of ["", "..", "../etc", "a/b"]) {
      await expect(spool.remove(id), id).rejects.toThrow(RangeError);
      await expect(spool.write(id, "x", Readable.from([])), id).rejects.toThrow(RangeError);
    }
    expect(existsSync(dir)).toBe(true);
  });
});
