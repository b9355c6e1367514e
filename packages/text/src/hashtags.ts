/** CONTRACTS.md section 1: `#` followed by letters, marks, digits or `_`; `#a#b` is two hashtags. */
const HASHTAG = /#[\p{L}\p{M}\p{N}_]+/gu;
const URL = /\bhttps?:\/\/\S+|\bwww\.\S+/giu;
// Instagram handles: 1-30 of [A-Za-z0-9_.], not preceded by a word character (so e-mail addresses survive).
const MENTION = /(?<![\p{L}\p{N}_])@[A-Za-z0-9_.]{1,30}/gu;

/** The stored label form: lower-cased, NFC, without `#`. */
export function normalizeHashtag(tag: string): string {
  return tag.replace(/^#/, "").normalize("NFC").toLowerCase();
}

/** Every hashtag in the text, normalized, de-duplicated, in order of first appearance. */
export function extractHashtags(text: string): string[] {
  const seen = new Set<string>();
  for (const m of text.normalize("NFC").matchAll(HASHTAG)) seen.add(normalizeHashtag(m[0]));
  return [...seen];
}

/**
 * The model's input text: URLs, @mentions and the trailing hashtag block removed; a hashtag inside a sentence
 * keeps its word without `#` (the paper's rule); whitespace collapsed.
 */
export function modelText(caption: string): string {
  let text = caption.normalize("NFC").replace(/\r\n?/g, "\n").replace(URL, " ").replace(MENTION, " ");
  // Trailing block: from the end, drop lines/tokens that are only hashtags, dots or separators.
  const tokens = text.split(/(\s+)/);
  let end = tokens.length;
  while (end > 0) {
    const t = tokens[end - 1]!;
    if (/^\s*$/.test(t) || /^[.\-•·|,]+$/u.test(t) || /^(#[\p{L}\p{M}\p{N}_]+)+[.,!]*$/u.test(t)) end--;
    else break;
  }
  text = tokens.slice(0, end).join("");
  text = text.replace(HASHTAG, (m) => m.slice(1));
  return text.replace(/\s+/g, " ").trim();
}
