import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CaptionTokenizer,
  extractHashtags,
  fixMetaText,
  modelText,
  writeWordPieceTokenizer,
} from "./index.js";

describe("hashtags", () => {
  it("splits run-together tags, keeps marks and digits, lower-cases and de-duplicates", () => {
    expect(extractHashtags("#Sunset#beach day #SUNSET #ความอร่อย #2024_trip")).toEqual([
      "sunset",
      "beach",
      "ความอร่อย",
      "2024_trip",
    ]);
  });
  it("NFC-normalizes so precomposed and decomposed accents are one label", () => {
    expect(extractHashtags("#cafe\u0301 #café")).toEqual(["café"]);
  });
});

describe("modelText", () => {
  it("removes URLs, mentions and the trailing hashtag block, keeps in-sentence tag words", () => {
    const caption = "Morning #swim at the reef w/ @coral.divers https://x.co/a\n.\n.\n#freediving #redsea";
    expect(modelText(caption)).toBe("Morning swim at the reef w/");
  });
  it("keeps an e-mail address and collapses whitespace", () => {
    expect(modelText("write  to me@site.com \n\n now")).toBe("write to me@site.com now");
  });
  it("gives empty text for a caption that is only hashtags", () => {
    expect(modelText("#a #b#c")).toBe("");
  });
});

describe("fixMetaText", () => {
  it("repairs UTF-8 bytes escaped as code units, flags and emoji included", () => {
    const raw =
      "D\u00c3\u00ada de campo \u00f0\u009f\u0087\u00b2\u00f0\u009f\u0087\u00bd\u00f0\u009f\u008c\u00bd";
    expect(fixMetaText(raw)).toBe("Día de campo 🇲🇽🌽");
  });
  it("leaves correct text and genuine Latin-1 alone", () => {
    expect(fixMetaText("naïve café 🌊")).toBe("naïve café 🌊");
    expect(fixMetaText("caf\u00e9")).toBe("caf\u00e9");
  });
});

describe("CaptionTokenizer", () => {
  it("builds a WordPiece vocabulary and encodes a padded batch with [CLS] and [SEP]", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tok-")), "tokenizer.json");
    writeWordPieceTokenizer(["a red apple on the table", "the red sunset", "Café crème"], path, 100);
    const tok = CaptionTokenizer.fromFile(path, 16);
    const batch = await tok.encodeBatch(["red apple", "the tablesunrun café", ""]);
    expect(batch.batchSize).toBe(3);
    const row = (r: number) =>
      [...batch.inputIds.slice(r * batch.length, (r + 1) * batch.length)].map(Number);
    expect(row(0).slice(0, 4)).toEqual([2, expect.any(Number), expect.any(Number), 3]);
    expect(row(2).slice(0, 2)).toEqual([2, 3]);
    expect(Number(batch.attentionMask[2 * batch.length + 2])).toBe(0);
    expect(row(1)).not.toContain(1); // [UNK]: every character is in the vocabulary
    const long = await tok.encodeBatch(["red ".repeat(100)]);
    expect(long.length).toBe(16);
  });
});
