export { HashtagModel, type ModelInput, type Ranked } from "./hashtag-model.js";
