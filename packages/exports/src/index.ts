export { ExportError, type ExportErrorCode } from "./errors.js";
export type { ExportPost } from "./export-post.js";
export { parseMetaHtml } from "./meta-html.js";
export { parseLegacyMediaJson, parseMetaJson } from "./meta-json.js";
export { type ReadExportOptions, readExport } from "./read-export.js";
export { DEFAULT_ZIP_LIMITS, type ZipLimits, ZipTree } from "./zip-tree.js";
