// `npm run generate:api-types -w @lxtag/e2e`: rewrites src/generated/api.ts from the API's OpenAPI document
// (needs `npm run build` first). api-types.test.ts fails while the committed file differs from what this writes.
import { writeFile } from "node:fs/promises";
import { API_TYPES_PATH, generateApiTypes } from "../api-types.js";

await writeFile(API_TYPES_PATH, await generateApiTypes());
console.log(`wrote ${API_TYPES_PATH}`);
