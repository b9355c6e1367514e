export { DEFAULT_MAX_PIXELS, decodeImage, ImageDecodeError, type RgbImage } from "./decode.js";
export { Detector, type DetectorOptions } from "./detector.js";
export { isImage, isVideo, type MediaType, MIME, sniffMediaType } from "./media-type.js";
export { type DetectorInput, preprocess, targetSize } from "./preprocess.js";
