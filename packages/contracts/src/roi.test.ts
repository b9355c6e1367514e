import { describe, expect, it } from "vitest";
import { currentDetectorSchema, detectorBundlePrefix, modelBundlePrefix, roiCacheKey } from "./roi.js";

describe("S3 naming", () => {
  it("keys RoI features by detector and image hash (CONTRACTS.md section 2)", () => {
    const sha = "a".repeat(64);
    expect(roiCacheKey("bua-r101", sha)).toBe(`features/bua-r101/${sha}.safetensors`);
  });

  it("puts bundles under their id", () => {
    expect(modelBundlePrefix("m1")).toBe("models/m1/");
    expect(detectorBundlePrefix("d1")).toBe("detectors/d1/");
  });

  it("reads the current detector pointer", () => {
    expect(currentDetectorSchema.parse({ id: "d1" })).toEqual({ id: "d1" });
    expect(currentDetectorSchema.safeParse({ id: "" }).success).toBe(false);
  });
});
