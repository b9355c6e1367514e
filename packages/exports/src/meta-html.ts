import { DomUtils, parseDocument } from "htmlparser2";
import { ExportError } from "./errors.js";
import type { ExportPost } from "./export-post.js";

type Element = ReturnType<typeof DomUtils.getElementsByTagName>[number];

const hasClasses = (el: Element, ...names: string[]) => {
  const cls = (el.attribs.class ?? "").split(/\s+/);
  return names.every((n) => cls.includes(n));
};

/**
 * Meta's HTML export: one `uiBoxWhite` container per post; caption in the `_a6-h` element (a div before 2023, an
 * h2 after); media as links/images/videos; a localized date string without timezone (kept raw). Entities are
 * decoded by the parser; the text is already proper UTF-8 (no mojibake repair here).
 */
export function parseMetaHtml(html: string, sourceFile: string, kind: ExportPost["kind"]): ExportPost[] {
  try {
    return readBoxes(html, sourceFile, kind);
  } catch (err) {
    // the DOM helpers recurse: markup nested some thousands deep (never Meta's) overflows the stack
    if (err instanceof RangeError)
      throw new ExportError("invalid-posts-file", `${sourceFile}: its HTML nests too deeply to read`);
    throw err;
  }
}

function readBoxes(html: string, sourceFile: string, kind: ExportPost["kind"]): ExportPost[] {
  const doc = parseDocument(html, { decodeEntities: true });
  const boxes = DomUtils.findAll((el) => hasClasses(el, "uiBoxWhite"), doc.children);
  return boxes.map((box, i) => {
    const captionEl = DomUtils.findOne(
      (el) => hasClasses(el, "_a6-h") || hasClasses(el, "_2pim"),
      box.children,
    );
    const dateEl = DomUtils.findOne((el) => hasClasses(el, "_a6-o") && hasClasses(el, "_3-94"), box.children);
    const uris: string[] = [];
    for (const el of DomUtils.findAll((e) => ["a", "img", "video"].includes(e.name), box.children)) {
      const uri = el.attribs.href ?? el.attribs.src;
      if (uri && !/^https?:/i.test(uri) && !uris.includes(uri)) uris.push(uri);
    }
    return {
      source: "meta-html" as const,
      sourceFile: `${sourceFile}#${i}`,
      kind,
      takenAt: null,
      takenAtRaw: dateEl ? DomUtils.textContent(dateEl).trim() : null,
      caption: captionEl ? DomUtils.textContent(captionEl).trim() : "",
      mediaUris: uris,
    };
  });
}
