// Training runs' work folders on this host (`<LXTAG_CACHE_DIR>/training/<run id>`): dataset shards holding every
// post's features. A run that succeeds removes its own; a failed run's stays to be looked into.
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * Removes all but the newest `keep` folders under `dir` (by last change), so that a run failing every night does
 * not fill the disk. Call it under the training lock: no run is writing any of them then. Resolves with the folders
 * removed; a missing `dir` has none.
 */
export async function pruneWorkFolders(dir: string, keep: number): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const folders = await Promise.all(
    entries
      .filter((e) => e.isDirectory())
      .map(async (e) => {
        const path = join(dir, e.name);
        return { path, changed: (await stat(path)).mtimeMs };
      }),
  );
  const old = folders.sort((a, b) => b.changed - a.changed).slice(keep);
  await Promise.all(old.map((f) => rm(f.path, { recursive: true, force: true })));
  return old.map((f) => f.path);
}
