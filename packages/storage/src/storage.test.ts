import { describe, expect, it } from "vitest";
import { decodeRoi, encodeRoi, float16ToFloat32, float32ToFloat16 } from "./index.js";

describe("float16", () => {
  it("round-trips values within half precision and rounds to nearest", () => {
    const src = [0, 1, -2.5, 65504, 1e-7, 0.1, 2.71, -0];
    const back = float16ToFloat32(float32ToFloat16(src));
    for (let i = 0; i < src.length; i++)
      expect(Math.abs(back[i]! - src[i]!)).toBeLessThanOrEqual(Math.abs(src[i]!) * 1e-3 + 6e-8);
    expect(float16ToFloat32(float32ToFloat16([1e6]))[0]).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("RoI codec", () => {
  it("encodes the CONTRACTS.md layout and decodes it back", () => {
    const features = new Float32Array(36 * 2048).map((_, i) => (i % 97) / 10);
    const boxes = new Float32Array(36 * 4).map((_, i) => (i % 4) / 4);
    const scores = new Float32Array(36).fill(0.5);
    const buf = encodeRoi({
      detectorId: "d1",
      imageWidth: 640,
      imageHeight: 480,
      numRealBoxes: 30,
      features,
      boxes,
      scores,
    });
    const headerLen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString());
    expect(header.features).toMatchObject({ dtype: "F16", shape: [36, 2048] });
    expect(header.__metadata__).toEqual({
      format: "lxtag-roi/1",
      detector: "d1",
      image_w: "640",
      image_h: "480",
      num_real_boxes: "30",
    });
    const roi = decodeRoi(buf);
    expect(roi.numRealBoxes).toBe(30);
    expect(roi.features[96]).toBeCloseTo(9.6, 2);
    expect([...roi.boxes.slice(0, 4)]).toEqual([0, 0.25, 0.5, 0.75]);
  });
  it("rejects a truncated object", () => {
    const buf = encodeRoi({
      detectorId: "d",
      imageWidth: 1,
      imageHeight: 1,
      numRealBoxes: 1,
      features: new Float32Array(36 * 2048),
      boxes: new Float32Array(144),
      scores: new Float32Array(36),
    });
    expect(() => decodeRoi(buf.subarray(0, buf.length - 10))).toThrow(/runs past the end/);
  });
});
