// The REST client's types are the API's: regenerated from the running code's OpenAPI document, they must equal the
// committed file (run `npm run generate:api-types -w @lxtag/e2e` after changing a route's schema).
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { API_TYPES_PATH, generateApiTypes } from "./api-types.js";

describe("generated REST types", () => {
  it("match the API's OpenAPI document", async () => {
    const generated = await generateApiTypes();
    expect(generated).toContain('"/v1/batches/{id}"');
    expect(await readFile(API_TYPES_PATH, "utf8")).toBe(generated);
  }, 60_000);
});
