import { type DataFilter, relabel } from "../filters.js";
import { readListFile } from "./list-file.js";
import { DataListFileError } from "./list-file-error.js";

/** variant -> canonical hashtag, already followed to its end (no canonical is itself a variant). */
export type AliasMap = ReadonlyMap<string, string>;

/**
 * Reads a user's alias file: one `variant,canonical` pair a line (`nyc,newyork`), in the list-file format. Chains
 * are followed (`a,b` and `b,c` map `a` to `c`); a variant given two canonicals, or a cycle, is refused with its
 * line.
 */
export async function loadAliasFile(path: string): Promise<AliasMap> {
  const pairs = new Map<string, { canonical: string; line: number }>();
  for (const { line, hashtags } of await readListFile(path)) {
    if (hashtags.length !== 2) throw new DataListFileError(path, line, "expected variant,canonical");
    const [variant, canonical] = hashtags as [string, string];
    const before = pairs.get(variant);
    if (before && before.canonical !== canonical)
      throw new DataListFileError(
        path,
        line,
        `${variant} is an alias of ${before.canonical} on line ${before.line}`,
      );
    if (variant !== canonical) pairs.set(variant, { canonical, line });
  }
  const map = new Map<string, string>();
  for (const [variant, { line }] of pairs) {
    let to = variant;
    const path_ = [variant];
    while (pairs.has(to)) {
      to = pairs.get(to)!.canonical;
      if (path_.includes(to))
        throw new DataListFileError(path, line, `alias cycle ${[...path_, to].join(" -> ")}`);
      path_.push(to);
    }
    map.set(variant, to);
  }
  return map;
}

/**
 * Words ending in `s` that are not plurals of the word without it, though both are common hashtags (`#news` and
 * `#new`, `#vegas` and `#vega`): never merged.
 */
export const NOT_PLURALS: ReadonlySet<string> = new Set([
  "always",
  "bus",
  "canvas",
  "chaos",
  "christmas",
  "cosmos",
  "economics",
  "gas",
  "genius",
  "kudos",
  "lens",
  "mathematics",
  "news",
  "paris",
  "physics",
  "plus",
  "politics",
  "series",
  "species",
  "texas",
  "this",
  "vegas",
  "yes",
]);

/**
 * The conservative plural rule: `<word>s` maps to `<word>` when both are among `labels` (the word at least 3
 * letters, not ending in `ss`, not in {@link NOT_PLURALS}). Only `s`: `-es` and `-ies` forms go through a user
 * file, where a person has looked at them.
 */
export function pluralAliases(labels: Iterable<string>): Map<string, string> {
  const all = new Set(labels);
  const map = new Map<string, string>();
  for (const l of all) {
    const singular = l.slice(0, -1);
    if (
      l.endsWith("s") &&
      !l.endsWith("ss") &&
      singular.length >= 3 &&
      !NOT_PLURALS.has(l) &&
      all.has(singular)
    )
      map.set(l, singular);
  }
  return map;
}

/**
 * Label normalization before anything is counted: the user's alias map, then (when on) plurals merged into their
 * singular where the train split has both forms (the train split decides, as it decides the outputs, so held-out
 * posts do not shape the labels; the merge applies to every split). A post's labels that merge count once.
 */
export const aliases = (user: AliasMap, plurals: boolean, origin = "", source = ""): DataFilter => ({
  name: "aliases",
  remedy: "set LXTAG_TRAIN_PLURAL_ALIASES=false or edit the LXTAG_TRAIN_ALIASES file",
  apply(state) {
    const byUser = (l: string) => user.get(l) ?? l;
    const plural = plurals
      ? pluralAliases(state.splits.train.flatMap((p) => p.labels.map(byUser)))
      : new Map<string, string>();
    const map = (l: string) => {
      const u = byUser(l);
      return plural.get(u) ?? u;
    };
    const merged = new Set<string>();
    for (const h of state.hashtags) if (map(h) !== h) merged.add(h);
    return {
      splits: relabel(state.splits, map),
      hashtags: [...new Set(state.hashtags.map(map))],
      note:
        `${user.size} user aliases${source}, plural s ${plurals ? "merged where both forms occur" : "kept"}${origin}` +
        (merged.size ? `; merged: ${examples(merged, map)}` : ""),
    };
  },
});

const examples = (merged: Set<string>, map: (l: string) => string, n = 5) =>
  [...merged]
    .slice(0, n)
    .map((h) => `${h}->${map(h)}`)
    .join(", ") + (merged.size > n ? ` and ${merged.size - n} more` : "");
