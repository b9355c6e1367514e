/** The posts listing's filters, as the grid and review screens keep them in the address. */
export const FILTER_KEYS = ["state", "flag", "hashtag", "scoreBelow", "order"] as const;
export type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

export function filtersOf(params: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of FILTER_KEYS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/** Flags the pipeline sets; others appear as they are found. */
export const KNOWN_FLAGS = [
  "caption-only",
  "video",
  "media-missing",
  "unsupported-media",
  "refeaturized",
  "roi-missing",
  "mojibake-repaired",
];
