export { ensureRoi, type FeaturizeDeps, featurize } from "./featurize.js";
export { fetchImage, ImageFetchError } from "./image-source.js";
