import { type DataFilter, maxHashtags, minTagCount } from "../filters.js";
import { type AliasMap, aliases, loadAliasFile } from "./aliases.js";
import { blocklist, CITY_BLOCKLIST_PATH, loadBlocklist } from "./blocklist.js";
import { minPostHashtags } from "./min-post-hashtags.js";
import { minWords } from "./min-words.js";
import { type DataPrepValues, type DataPresetName, resolveDataPrep } from "./presets.js";
import { type Repostable, removeReposts } from "./reposts.js";

/** The data-preparation settings of a run: a preset, any of its values overridden, and the user's list files. */
export interface DataPrepSettings extends Partial<DataPrepValues> {
  dataPreset: DataPresetName;
  /** A `variant,canonical` file merged before counting. */
  aliasesFile?: string | undefined;
  /** Blocklist files added to the shipped city list (or used alone when it is off). */
  blocklistFiles: readonly string[];
}

/**
 * The run's data preparation, in the paper's order: inputs (words, re-posts), label normalization (aliases,
 * blocklist) before anything is counted, the outputs chosen on the train split (min-tag-count, max-hashtags), then
 * posts without enough outputs. Every step is listed, off or on, so the report shows each one.
 */
export async function dataPrepFilters(settings: DataPrepSettings): Promise<DataFilter<Repostable>[]> {
  const { values: v, origin } = resolveDataPrep(settings.dataPreset, settings);
  const from = (key: keyof DataPrepValues) => `, ${origin[key]}`;
  // a preset's value that removed too much: the other preset is a way out too
  const orPreset = (key: keyof DataPrepValues) => (f: DataFilter<Repostable>) =>
    origin[key].startsWith("preset") && settings.dataPreset === "paper"
      ? { ...f, remedy: `${f.remedy} or use LXTAG_TRAIN_PRESET_DATA=default` }
      : f;

  const userAliases: AliasMap = settings.aliasesFile ? await loadAliasFile(settings.aliasesFile) : new Map();
  const blockFiles = [...(v.blockCities ? [CITY_BLOCKLIST_PATH] : []), ...settings.blocklistFiles];
  const blocked = await loadBlocklist(blockFiles);
  const blockNote =
    `${blocked.size} hashtags: shipped city list ${v.blockCities ? "on" : "off"}${from("blockCities")}` +
    (settings.blocklistFiles.length ? `, plus ${settings.blocklistFiles.join(", ")}` : "");

  return [
    orPreset("minWords")(minWords(v.minWords, from("minWords"))),
    orPreset("dedupReposts")(removeReposts(v.dedupReposts, from("dedupReposts"))),
    aliases(
      userAliases,
      v.pluralAliases,
      from("pluralAliases"),
      settings.aliasesFile ? ` (${settings.aliasesFile})` : "",
    ),
    orPreset("blockCities")(blocklist(blocked, blockNote)),
    orPreset("minTagCount")(minTagCount(v.minTagCount, from("minTagCount"))),
    orPreset("maxHashtags")(maxHashtags(v.maxHashtags, from("maxHashtags"))),
    orPreset("minPostHashtags")(
      minPostHashtags(v.minPostHashtags, v.minPostHashtagsSplits, from("minPostHashtags")),
    ),
  ];
}
