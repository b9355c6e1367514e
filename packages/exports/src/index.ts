export { ExportError, type ExportErrorCode } from "./errors.js";
export type { ExportPost } from "./export-post.js";
export {
  countJsonItems,
  JSON_KEPT_MAX_CHARS,
  JSON_MAX_DEPTH,
  type JsonItem,
  type JsonItemsOptions,
  type JsonOutline,
  jsonItems,
  jsonOutline,
  nestsTooDeep,
} from "./json-items.js";
export { parseMetaHtml } from "./meta-html.js";
export { countMetaJson, parseLegacyMediaJson, streamMetaJson } from "./meta-json.js";
export { type ExportContents, type ReadExportOptions, readExport } from "./read-export.js";
export { DEFAULT_ZIP_LIMITS, type ZipLimits, ZipTree } from "./zip-tree.js";
