import { describe, expect, it } from "vitest";
import { captionWithoutHashtags, extractHashtags, modelText } from "./index.js";

// caption -> model text (the paper's rule, made precise) and -> the caption without any hashtag
const TABLE: [caption: string, model: string, withoutHashtags: string][] = [
  // tag blocks at the end, whatever follows them
  ["Golden hour in Brooklyn #sunset #brooklyn #nyc", "Golden hour in Brooklyn", "Golden hour in Brooklyn"],
  [
    "Golden hour in Brooklyn #sunset #brooklyn #nyc 📸",
    "Golden hour in Brooklyn 📸",
    "Golden hour in Brooklyn 📸",
  ],
  ["Golden hour #sunset #nyc 📸 by Jane", "Golden hour 📸 by Jane", "Golden hour 📸 by Jane"],
  [
    "Fresh bread today #bakery #sourdough\n\nPhoto: Jane Doe",
    "Fresh bread today Photo: Jane Doe",
    "Fresh bread today Photo: Jane Doe",
  ],
  [
    "Made with love #handmade #etsy ✨ link in bio",
    "Made with love ✨ link in bio",
    "Made with love ✨ link in bio",
  ],
  ["Sunset #a,#b", "Sunset", "Sunset"],
  ["Sunset #a,#b.", "Sunset .", "Sunset ."],
  ["Sunset, #beach;#sea!", "Sunset, !", "Sunset, !"],
  ["#a,#b", "", ""],
  ["#a #b#c", "", ""],
  // blocks on lines of their own, spacer lines, a block over several lines
  [
    "Morning #swim at the reef w/ @coral.divers https://x.co/a\n.\n.\n#freediving #redsea",
    "Morning swim at the reef w/",
    "Morning at the reef w/",
  ],
  [
    "Ramen night 🍜\n#ramen #tokyo\n#foodie\nrecipe in my stories",
    "Ramen night 🍜 recipe in my stories",
    "Ramen night 🍜 recipe in my stories",
  ],
  [
    "Lake day\n— #lake #summer —\nback tomorrow with more",
    "Lake day — — back tomorrow with more",
    "Lake day — — back tomorrow with more",
  ],
  // at the start
  ["#tbt to last summer in Rome", "to last summer in Rome", "to last summer in Rome"],
  ["#ad #sponsored Our new serum is here", "Our new serum is here", "Our new serum is here"],
  // in a sentence: the word stays (the paper's rule)
  ["I love #nyc so much", "I love nyc so much", "I love so much"],
  ["Loving the #beach life. #summer #sun", "Loving the beach life.", "Loving the life."],
  ["Best #coffee in town, no doubt", "Best coffee in town, no doubt", "Best in town, no doubt"],
  // mentions, URLs, e-mail, whitespace
  ["write  to me@site.com \n\n now", "write to me@site.com now", "write to me@site.com now"],
  ["Shot by @jane.doe #portrait", "Shot by", "Shot by"],
  // Meta's mojibake repaired first
  ["D\u00c3\u00ada de campo #mexico #maiz", "Día de campo", "Día de campo"],
  // non-Latin scripts and marks
  ["อร่อยมาก #ความอร่อย #อาหาร", "อร่อยมาก", "อร่อยมาก"],
  ["", "", ""],
];

describe("the caption rule", () => {
  it.each(TABLE)("%j", (caption, model, without) => {
    expect(modelText(caption)).toBe(model);
    expect(captionWithoutHashtags(caption)).toBe(without);
  });

  it("leaves no tag-block hashtag word in the model text", () => {
    const caption = "Golden hour on the bridge #sunset #brooklyn,#nyc 📸";
    const words = modelText(caption).toLowerCase().split(/\s+/);
    for (const tag of extractHashtags(caption)) expect(words).not.toContain(tag);
  });

  it("keeps a long tail after a run as a sentence (the run is in it)", () => {
    expect(modelText("Back in #paris - the city of light and good food")).toBe(
      "Back in paris - the city of light and good food",
    );
  });
});
