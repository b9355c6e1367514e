import { HASHTAG_PATTERN } from "./hashtags.js";
import { fixMetaText } from "./meta-text.js";

/**
 * The caption rule (lxtag-caption/2; README "The caption rule"): what the model reads of a caption. Training and
 * serving both call these functions, so a model never trains on text it will not see.
 *
 * A caption is cut into segments: URLs and @mentions (dropped), hashtags, words, newlines and everything else
 * (spaces, punctuation, emoji). A *hashtag run* is a maximal sequence of hashtags with no word between them
 * (spaces, punctuation, emoji, mentions and newlines may separate them: `#a,#b`, `#a 🌅 #b`, a block over several
 * lines). A run is a tag block, removed whole, when it
 * - starts the caption (no word before it),
 * - ends the caption: no word after it, or at most {@link MAX_TAIL_WORDS} words set off from it by a newline, an
 *   emoji or a separator such as `|` or `-` (a credit line: `#nyc 📸 by Jane`), or
 * - fills its lines (no word before it on its first line, none after it on its last).
 * Any other hashtag is part of a sentence and keeps its word without `#` (the paper's rule). Lines of spacer
 * characters only (`.`, `-`, `•`) go; whitespace is collapsed. Text is NFC, with Meta's mojibake repaired first.
 */

export const MAX_TAIL_WORDS = 3;

type Kind = "drop" | "hashtag" | "newline" | "word" | "other";
interface Segment {
  kind: Kind;
  text: string;
}

const SEGMENT = new RegExp(
  [
    // URLs and Instagram handles (1-30 of [A-Za-z0-9_.], not after a word character: e-mail addresses survive)
    String.raw`(?<drop>\bhttps?:\/\/\S+|\bwww\.\S+|(?<![\p{L}\p{N}_])@[A-Za-z0-9_.]{1,30})`,
    `(?<hashtag>${HASHTAG_PATTERN.source})`,
    String.raw`(?<newline>\n)`,
    String.raw`(?<word>[\p{L}\p{M}\p{N}_]+)`,
    "(?<other>[^])",
  ].join("|"),
  "giu",
);
// what sets a credit line off from the tag block before it
const TAIL_BREAK = /[\n|•·—–\-/:\p{Extended_Pictographic}\p{So}]/u;
const SPACER_LINE = /^[\s.\-•·|,_~*]+$/u;

function segments(caption: string): Segment[] {
  const text = fixMetaText(caption)
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .filter((line) => !SPACER_LINE.test(line))
    .join("\n");
  const out: Segment[] = [];
  for (const m of text.matchAll(SEGMENT)) {
    const kind = (Object.entries(m.groups ?? {}).find(([, v]) => v !== undefined)?.[0] ?? "other") as Kind;
    out.push({ kind, text: m[0] });
  }
  return out;
}

/** [first, last] segment indices of each hashtag run. */
function hashtagRuns(segs: readonly Segment[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < segs.length; i++) {
    if (segs[i]!.kind !== "hashtag") continue;
    let last = i;
    for (let j = i + 1; j < segs.length && segs[j]!.kind !== "word"; j++)
      if (segs[j]!.kind === "hashtag") last = j;
    runs.push([i, last]);
    i = last;
  }
  return runs;
}

function isTagBlock(segs: readonly Segment[], [first, last]: [number, number]): boolean {
  const before = segs.slice(0, first);
  const after = segs.slice(last + 1);
  if (!before.some((s) => s.kind === "word")) return true;
  const tailWords = after.filter((s) => s.kind === "word").length;
  if (tailWords === 0) return true;
  const gap = after.slice(
    0,
    after.findIndex((s) => s.kind === "word"),
  );
  if (tailWords <= MAX_TAIL_WORDS && gap.some((s) => TAIL_BREAK.test(s.text))) return true;
  const lineStart = before.findLastIndex((s) => s.kind === "newline");
  const lineEnd = after.findIndex((s) => s.kind === "newline");
  const restOfFirstLine = before.slice(lineStart + 1);
  const restOfLastLine = lineEnd < 0 ? after : after.slice(0, lineEnd);
  return !restOfFirstLine.some((s) => s.kind === "word") && !restOfLastLine.some((s) => s.kind === "word");
}

const collapse = (parts: string[]) => parts.join("").replace(/\s+/g, " ").trim();

/** The model's input text of a caption: tag blocks removed, in-sentence hashtags kept as words (see above). */
export function modelText(caption: string): string {
  const segs = segments(caption);
  const blocks = new Set<number>();
  for (const run of hashtagRuns(segs))
    if (isTagBlock(segs, run)) for (let i = run[0]; i <= run[1]; i++) blocks.add(i);
  return collapse(
    segs.map((s, i) =>
      blocks.has(i) || s.kind === "drop" ? " " : s.kind === "hashtag" ? s.text.slice(1) : s.text,
    ),
  );
}

/**
 * The caption with every hashtag removed, its word too: what a post that has no hashtags yet looks like. Runs
 * evaluate on it, and may train on it for a share of posts, so the model does not learn to read its answers.
 */
export function captionWithoutHashtags(caption: string): string {
  const segs = segments(caption);
  const runs = new Set<number>();
  for (const [first, last] of hashtagRuns(segs)) for (let i = first; i <= last; i++) runs.add(i);
  return collapse(segs.map((s, i) => (runs.has(i) || s.kind === "drop" ? " " : s.text)));
}
