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

  /** A batch folder with one part, sealed or not, last written at `age` (now when null). */
  const folder = async (sealed: boolean, age: Date | null) => {
    const id = randomUUID();
    const file = await spool.write(id, "part-1.zip", Readable.from(chunks(1)));
    if (sealed) await spool.seal(id, [{ key: `uploads/k/${id}/part-1.zip`, file }]);
    if (age)
      for (const p of [join(dir, id), file.path, join(dir, id, "manifest.json")])
        await utimes(p, age, age).catch(() => {});
    return id;
  };

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
    const ingestedElsewhere = await folder(true, hourAgo);
    const stillQueued = await folder(true, hourAgo);
    const beingIngested = await folder(true, hourAgo);
    const justSealed = await folder(true, null); // its batch row may not be written yet
    const abandoned = await folder(false, hourAgo);
    const stillComing = await folder(false, null);
    // a folder that is not a batch's is someone else's
    await mkdir(join(dir, "not-a-batch"));
    await utimes(join(dir, "not-a-batch"), hourAgo, hourAgo);
    const asked: string[] = [];
    const states: Record<string, string | null> = {
      [ingestedElsewhere]: "processing",
      [stillQueued]: "queued",
      [beingIngested]: "ingesting",
    };
    const stateOf = async (id: string) => {
      asked.push(id);
      return states[id] ?? null;
    };
    expect(await spool.sweep({ stateOf, abandonedAfterMs: 1_800_000, maxBytes: 2 ** 30 }, now)).toBe(2);
    expect(asked.sort()).toEqual([ingestedElsewhere, stillQueued, beingIngested].sort());
    for (const gone of [ingestedElsewhere, abandoned]) expect(existsSync(join(dir, gone)), gone).toBe(false);
    for (const kept of [stillQueued, beingIngested, justSealed, stillComing, "not-a-batch"])
      expect(existsSync(join(dir, kept)), kept).toBe(true);
    // a spool folder that does not exist yet has nothing to sweep
    const none = { stateOf, abandonedAfterMs: 0, maxBytes: 0 };
    expect(await new UploadSpool(join(dir, "absent")).sweep(none)).toBe(0);
  });

  it("past its budget, removes the oldest copies of queued batches first, never one being ingested", async () => {
    const budget = await mkdtemp(join(tmpdir(), "lxtag-spool-budget-"));
    try {
      const small = new UploadSpool(budget);
      const now = Date.now();
      const at = (minutes: number) => new Date(now - minutes * 60_000);
      const copy = async (minutesAgo: number) => {
        const id = randomUUID();
        const file = await small.write(id, "part-1.zip", Readable.from([Buffer.alloc(1000)]));
        await small.seal(id, [{ key: `uploads/k/${id}/part-1.zip`, file }]);
        for (const p of [join(budget, id), file.path, join(budget, id, "manifest.json")])
          await utimes(p, at(minutesAgo), at(minutesAgo));
        return id;
      };
      const [oldest, ingesting, older, newer] = [
        await copy(40),
        await copy(50),
        await copy(30),
        await copy(20),
      ];
      const stateOf = async (id: string) => (id === ingesting ? "ingesting" : "queued");
      // a little over 1 kB each (the part and its manifest): room for two
      expect(await small.sweep({ stateOf, abandonedAfterMs: 3_600_000, maxBytes: 3000 }, now)).toBe(2);
      for (const gone of [oldest, older]) expect(existsSync(join(budget, gone)), gone).toBe(false);
      for (const kept of [ingesting, newer]) expect(existsSync(join(budget, kept)), kept).toBe(true);
    } finally {
      await rm(budget, { recursive: true, force: true });
    }
  });

  it("takes only batch ids for folder names", async () => {
    for (const id of ["", "..", "../etc", "a/b"]) {
      await expect(spool.remove(id), id).rejects.toThrow(RangeError);
      await expect(spool.write(id, "x", Readable.from([])), id).rejects.toThrow(RangeError);
    }
    expect(existsSync(dir)).toBe(true);
  });
});
