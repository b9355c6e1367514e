import { readFile } from "node:fs/promises";
import { normalizeHashtag } from "@lxtag/text";
import { DataListFileError } from "./list-file-error.js";

/** One line of a hashtag list file: its number (from 1) and its hashtags, in the stored label form. */
export interface ListLine {
  line: number;
  hashtags: string[];
}

/**
 * Reads a hashtag list file (blocklists, alias maps): UTF-8, one entry per line, hashtags separated by commas,
 * each with or without `#` and in any case (they are compared in the stored label form, CONTRACTS.md 1). Empty
 * lines and comments (`#` followed by a space, or a lone `#`, to the end of the line) are skipped.
 */
export async function readListFile(path: string): Promise<ListLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new DataListFileError(path, null, err instanceof Error ? err.message : String(err));
  }
  const out: ListLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const content = raw.replace(/(^|\s)#(\s.*)?$/u, "").trim();
    if (!content) return;
    const hashtags = content.split(",").map((h) => normalizeHashtag(h.trim()));
    const bad = hashtags.find((h) => !/^[\p{L}\p{M}\p{N}_]+$/u.test(h));
    if (bad !== undefined)
      throw new DataListFileError(path, i + 1, `"${bad}" is not a hashtag (letters, marks, digits or _)`);
    out.push({ line: i + 1, hashtags });
  });
  return out;
}
