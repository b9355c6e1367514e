export { extractHashtags, modelText, normalizeHashtag } from "./hashtags.js";
export { fixMetaJson, fixMetaText } from "./meta-text.js";
export { CaptionTokenizer, type EncodedBatch, SPECIAL_TOKENS, writeWordPieceTokenizer } from "./tokenizer.js";
