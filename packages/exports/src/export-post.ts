/** One post as an export describes it, before media are read (instagram-export.md section 7). */
export interface ExportPost {
  source: "meta-json" | "meta-html" | "meta-legacy-media-json";
  sourceFile: string;
  kind: "post" | "reel" | "archived";
  takenAt: string | null;
  takenAtRaw: string | null;
  caption: string;
  mediaUris: string[];
}
