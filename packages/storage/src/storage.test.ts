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
  it("decodes an object wherever its bytes sit in memory (views when aligned, copies when not)", () => {
    const roi = {
      detectorId: "d",
      imageWidth: 1,
      imageHeight: 1,
      numRealBoxes: 1,
      features: Float32Array.from({ length: 36 * 2048 }, (_, i) => (i % 13) / 4),
      boxes: Float32Array.from({ length: 144 }, (_, i) => (i % 4) / 4),
      scores: new Float32Array(36).fill(0.5),
    };
    for (const format of ["lxtag-roi/1", "lxtag-roi/2"] as const) {
      const buf = encodeRoi(roi, format);
      const expected = decodeRoi(buf);
      for (const shift of [1, 2, 3, 4]) {
        const shifted = Buffer.concat([Buffer.alloc(shift), buf]).subarray(shift);
        const got = decodeRoi(shifted);
        expect(got.features).toEqual(expected.features);
        expect(got.boxes).toEqual(roi.boxes);
        expect(got.scores).toEqual(roi.scores);
      }
    }
  });
});

describe("RoI codec, lxtag-roi/2 (8-bit features, per-box scale)", () => {
  const roi = (features: Float32Array) => ({
    detectorId: "d2",
    imageWidth: 800,
    imageHeight: 600,
    numRealBoxes: 35,
    features,
    boxes: new Float32Array(36 * 4).map((_, i) => (i % 4) / 4),
    scores: new Float32Array(36).fill(0.25),
  });

  it("stores U8 features with a scale and offset per box, about half the bytes of lxtag-roi/1", () => {
    // boxes of very different magnitudes, one constant (padding) row, negative values
    const features = new Float32Array(36 * 2048).map((_, i) => {
      const box = Math.floor(i / 2048);
      return box === 35 ? 0 : Math.sin(i) * (box + 1) * 0.3 + (box % 3 === 0 ? -1 : 2);
    });
    const v1 = encodeRoi(roi(features));
    const v2 = encodeRoi(roi(features), "lxtag-roi/2");
    const header = JSON.parse(v2.subarray(8, 8 + Number(v2.readBigUInt64LE(0))).toString());
    expect(header.features).toMatchObject({ dtype: "U8", shape: [36, 2048] });
    expect(header.feature_scale).toMatchObject({ dtype: "F32", shape: [36] });
    expect(header.feature_offset).toMatchObject({ dtype: "F32", shape: [36] });
    expect(header.__metadata__.format).toBe("lxtag-roi/2");
    expect(v2.length / v1.length).toBeLessThan(0.51);

    const back = decodeRoi(v2);
    expect(back).toMatchObject({ detectorId: "d2", imageWidth: 800, imageHeight: 600, numRealBoxes: 35 });
    for (let b = 0; b < 36; b++) {
      const row = features.subarray(b * 2048, (b + 1) * 2048);
      const step = (Math.max(...row) - Math.min(...row)) / 255;
      let worst = 0;
      for (let i = 0; i < 2048; i++)
        worst = Math.max(worst, Math.abs(back.features[b * 2048 + i]! - row[i]!));
      expect(worst, `box ${b}`).toBeLessThanOrEqual(step / 2 + 1e-6);
    }
    expect([...back.features.subarray(35 * 2048, 35 * 2048 + 4)]).toEqual([0, 0, 0, 0]);
    expect([...back.boxes.slice(0, 4)]).toEqual([0, 0.25, 0.5, 0.75]);
  });

  it("decodes both versions into a batch tensor at an offset", () => {
    const features = new Float32Array(36 * 2048).map((_, i) => (i % 50) / 7);
    const out = new Float32Array(3 * 36 * 2048);
    decodeRoi(encodeRoi(roi(features)), out, 0);
    decodeRoi(encodeRoi(roi(features), "lxtag-roi/2"), out, 2 * 36 * 2048);
    expect(out[49]).toBeCloseTo(7, 2);
    expect(out[2 * 36 * 2048 + 49]).toBeCloseTo(7, 1);
    expect(out[36 * 2048 + 49]).toBe(0);
  });

  it("refuses features that are not finite and objects of an unknown format", () => {
    const bad = new Float32Array(36 * 2048);
    bad[5] = Number.NaN;
    expect(() => encodeRoi(roi(bad), "lxtag-roi/2")).toThrow(/box 0 has a feature that is not finite/);
    const v2 = encodeRoi(roi(new Float32Array(36 * 2048)), "lxtag-roi/2");
    const forged = Buffer.from(v2.toString("latin1").replace("lxtag-roi/2", "lxtag-roi/9"), "latin1");
    expect(() => decodeRoi(forged)).toThrow(/format lxtag-roi\/9/);
  });
});
