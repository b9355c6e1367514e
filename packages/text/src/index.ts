export { extractHashtags, normalizeHashtag } from "./hashtags.js";
export { fixMetaJson, fixMetaText } from "./meta-text.js";
export { captionWithoutHashtags, MAX_TAIL_WORDS, modelText } from "./model-text.js";
export { CaptionTokenizer, type EncodedBatch, SPECIAL_TOKENS, writeWordPieceTokenizer } from "./tokenizer.js";
