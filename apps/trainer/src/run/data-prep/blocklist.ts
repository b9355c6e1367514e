import { fileURLToPath } from "node:url";
import { type DataFilter, relabel } from "../filters.js";
import { readListFile } from "./list-file.js";

/** The shipped list of the world's large cities and their common hashtag spellings (`nyc`, `newyork`, ...). */
export const CITY_BLOCKLIST_PATH = fileURLToPath(
  new URL("../../../data/blocklist-cities.txt", import.meta.url),
);

/** Every hashtag of the given list files (the list-file format: any number of hashtags a line). */
export async function loadBlocklist(paths: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const path of paths)
    for (const { hashtags } of await readListFile(path)) for (const h of hashtags) out.add(h);
  return out;
}

/**
 * Blocked hashtags removed from every post's labels, before anything is counted (the paper removed city names): no
 * model suggests them and no score counts them. A post left without a label goes.
 */
export const blocklist = (blocked: ReadonlySet<string>, note: string): DataFilter => ({
  name: "blocklist",
  remedy: "set LXTAG_TRAIN_BLOCK_CITIES=false or shorten the LXTAG_TRAIN_BLOCKLIST files",
  apply: (state) => ({
    splits: relabel(state.splits, (l) => (blocked.has(l) ? null : l)),
    hashtags: state.hashtags.filter((h) => !blocked.has(h)),
    note,
  }),
});
