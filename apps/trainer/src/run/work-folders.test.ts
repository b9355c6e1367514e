import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pruneWorkFolders } from "./work-folders.js";

describe("pruneWorkFolders", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps the newest folders and removes the rest with their shards; files beside them stay", async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-work-folders-"));
    const day = 86_400;
    const now = Date.now() / 1000;
    // created out of order: age, not name or creation, decides
    for (const [name, ageDays] of [
      ["run-c", 1],
      ["run-a", 5],
      ["run-e", 0],
      ["run-b", 3],
      ["run-d", 9],
    ] as const) {
      await mkdir(join(dir, name, "dataset"), { recursive: true });
      await writeFile(join(dir, name, "dataset", "shard-0.safetensors"), "features");
      await utimes(join(dir, name), now - ageDays * day, now - ageDays * day);
    }
    await writeFile(join(dir, "notes.txt"), "not a run");
    const removed = await pruneWorkFolders(dir, 2);
    expect(removed.map((p) => p.slice(dir!.length + 1)).sort()).toEqual(["run-a", "run-b", "run-d"]);
    expect((await readdir(dir)).sort()).toEqual(["notes.txt", "run-c", "run-e"]);
    expect(await pruneWorkFolders(dir, 2)).toEqual([]);
    expect(await pruneWorkFolders(dir, 0)).toHaveLength(2);
  });

  it("finds nothing to remove where no run has written yet", async () => {
    expect(await pruneWorkFolders(join(tmpdir(), `lxtag-none-${process.pid}-${Date.now()}`), 3)).toEqual([]);
  });
});
