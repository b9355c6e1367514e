/** CONTRACTS.md section 1: `#` followed by letters, marks, digits or `_`; `#a#b` is two hashtags. */
export const HASHTAG_PATTERN = /#[\p{L}\p{M}\p{N}_]+/gu;

/** The stored label form: lower-cased, NFC, without `#`. */
export function normalizeHashtag(tag: string): string {
  return tag.replace(/^#/, "").normalize("NFC").toLowerCase();
}

/** Every hashtag in the text, normalized, de-duplicated, in order of first appearance. */
export function extractHashtags(text: string): string[] {
  const seen = new Set<string>();
  for (const m of text.normalize("NFC").matchAll(HASHTAG_PATTERN)) seen.add(normalizeHashtag(m[0]));
  return [...seen];
}
