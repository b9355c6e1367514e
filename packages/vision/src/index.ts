export { DEFAULT_MAX_PIXELS, decodeImage, ImageDecodeError, type RgbImage } from "./decode.js";
export { Detector, type DetectorOptions, type ImageDetector } from "./detector.js";
export { nms, selectCaffe, selectDemo, selectProposals } from "./frcnn-selection.js";
export { isImage, isVideo, type MediaType, MIME, sniffMediaType } from "./media-type.js";
export { type DetectorInput, preprocess, targetSize } from "./preprocess.js";
