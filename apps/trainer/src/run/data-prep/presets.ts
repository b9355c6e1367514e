/** Which posts count as re-posts of an earlier one: none, the same normalized caption, the same image, either. */
export const REPOST_MODES = ["off", "caption", "image", "image-or-caption"] as const;
export type RepostMode = (typeof REPOST_MODES)[number];

export const DATA_PRESET_NAMES = ["default", "paper"] as const;
export type DataPresetName = (typeof DATA_PRESET_NAMES)[number];

/** The data-preparation settings a preset fixes; each one's own setting overrides it. */
export interface DataPrepValues {
  /** Posts whose model text has fewer words are removed (all splits). */
  minWords: number;
  /** Re-posts removed, the earliest kept. */
  dedupReposts: RepostMode;
  /** `<word>s` merged into `<word>` when the train split has both. */
  pluralAliases: boolean;
  /** The shipped list of city hashtags (`apps/trainer/data/blocklist-cities.txt`) removed from every post's labels. */
  blockCities: boolean;
  /** An output needs at least this many training posts. */
  minTagCount: number;
  /** At most this many outputs, the most frequent. */
  maxHashtags: number;
  /** Posts with fewer output hashtags are removed... */
  minPostHashtags: number;
  /** ...from the train split only, or from every split. */
  minPostHashtagsSplits: "train" | "all";
}

/**
 * `paper`: the paper's preparation of InstaNY100K (at least 5 words, re-posts by image or caption removed, the 500
 * most frequent hashtags less city names, at least 5 of them per post, on every split). Its posts were collected
 * by New York hashtags, so the city tags were on nearly every post and told nothing; and they carried many
 * hashtags each, so 5 per post left most of them.
 *
 * `default`: typical exports, where most posts carry one to three hashtags: the paper's 5 per post would remove
 * nearly all of them, so a training post needs one output, and validation and test keep every post (recall counts
 * every true hashtag, also those outside the outputs: the figure users see). Any words at all; re-posts by caption
 * only (the split keeps posts sharing an image together already, and in exports they are often different posts
 * with their own hashtags, while the same caption on two images could land in train and test and give the answer
 * away); plurals merged; city hashtags kept, since one person's city tag is a hashtag they do use and want
 * suggested; an output needs two training posts (one is noise) and the head stays at most 1000 wide.
 */
export const DATA_PRESETS: Record<DataPresetName, DataPrepValues> = {
  default: {
    minWords: 1,
    dedupReposts: "caption",
    pluralAliases: true,
    blockCities: false,
    minTagCount: 2,
    maxHashtags: 1000,
    minPostHashtags: 1,
    minPostHashtagsSplits: "train",
  },
  paper: {
    minWords: 5,
    dedupReposts: "image-or-caption",
    pluralAliases: true,
    blockCities: true,
    minTagCount: 1,
    maxHashtags: 500,
    minPostHashtags: 5,
    minPostHashtagsSplits: "all",
  },
};

/** The environment variable behind each setting, for messages that say what to change. */
export const DATA_PREP_ENV: Record<keyof DataPrepValues, string> = {
  minWords: "LXTAG_TRAIN_MIN_WORDS",
  dedupReposts: "LXTAG_TRAIN_DEDUP_REPOSTS",
  pluralAliases: "LXTAG_TRAIN_PLURAL_ALIASES",
  blockCities: "LXTAG_TRAIN_BLOCK_CITIES",
  minTagCount: "LXTAG_TRAIN_MIN_TAG_COUNT",
  maxHashtags: "LXTAG_TRAIN_MAX_HASHTAGS",
  minPostHashtags: "LXTAG_TRAIN_MIN_POST_HASHTAGS",
  minPostHashtagsSplits: "LXTAG_TRAIN_MIN_POST_HASHTAGS_SPLITS",
};

/** A preset's values with the settings given on top; `origin` says where each value came from. */
export function resolveDataPrep(
  preset: DataPresetName,
  given: Partial<DataPrepValues>,
): { values: DataPrepValues; origin: Record<keyof DataPrepValues, string> } {
  const values = { ...DATA_PRESETS[preset] } as DataPrepValues;
  const origin = {} as Record<keyof DataPrepValues, string>;
  for (const key of Object.keys(values) as (keyof DataPrepValues)[]) {
    const v = given[key];
    if (v !== undefined) (values as unknown as Record<string, unknown>)[key] = v;
    origin[key] = v === undefined ? `preset ${preset}` : `${DATA_PREP_ENV[key]} set`;
  }
  return { values, origin };
}
