export { HashtagModel, type ModelInput, type Ranked } from "./hashtag-model.js";
export { Predictor, type PredictorDeps } from "./predictor.js";
