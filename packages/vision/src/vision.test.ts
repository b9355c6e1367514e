import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  decodeImage,
  ImageDecodeError,
  nms,
  preprocess,
  selectCaffe,
  selectDemo,
  selectProposals,
  sniffMediaType,
  targetSize,
} from "./index.js";

const rgb = (w: number, h: number, color: { r: number; g: number; b: number }) =>
  sharp({ create: { width: w, height: h, channels: 3, background: color } });

describe("sniffMediaType", () => {
  it("trusts magic bytes, not names", async () => {
    const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}`)]);
    expect(sniffMediaType(await rgb(4, 4, { r: 1, g: 2, b: 3 }).jpeg().toBuffer())).toBe("jpeg");
    expect(sniffMediaType(await rgb(4, 4, { r: 1, g: 2, b: 3 }).png().toBuffer())).toBe("png");
    expect(sniffMediaType(await rgb(4, 4, { r: 1, g: 2, b: 3 }).webp().toBuffer())).toBe("webp");
    expect(sniffMediaType(await rgb(4, 4, { r: 1, g: 2, b: 3 }).gif().toBuffer())).toBe("gif");
    expect(sniffMediaType(ftyp("heic"))).toBe("heic");
    expect(sniffMediaType(ftyp("mif1"))).toBe("heic");
    expect(sniffMediaType(ftyp("mp42"))).toBe("mp4");
    expect(sniffMediaType(ftyp("qt  "))).toBe("mov");
    expect(sniffMediaType(Buffer.from("%PDF-1.7"))).toBe("unknown");
  });
});

describe("decodeImage", () => {
  it("applies EXIF orientation", async () => {
    const rotated = await rgb(40, 20, { r: 200, g: 0, b: 0 })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await decodeImage(rotated);
    expect([img.width, img.height]).toEqual([20, 40]);
  });
  it("composites alpha on white, expands grayscale, reduces 16-bit and converts CMYK to 8-bit RGB", async () => {
    const transparent = await sharp({
      create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect([...(await decodeImage(transparent)).data.subarray(0, 3)]).toEqual([255, 255, 255]);
    const gray = await rgb(3, 3, { r: 90, g: 90, b: 90 }).grayscale().jpeg().toBuffer();
    const g = await decodeImage(gray);
    expect(g.data.length).toBe(3 * 3 * 3);
    const deep = await rgb(3, 3, { r: 10, g: 120, b: 250 }).toColourspace("rgb16").png().toBuffer();
    const d = await decodeImage(deep);
    expect(d.data.length).toBe(27);
    expect(Math.abs(d.data[2]! - 250)).toBeLessThanOrEqual(1);
    const cmyk = await rgb(3, 3, { r: 200, g: 30, b: 30 }).toColourspace("cmyk").jpeg().toBuffer();
    const c = await decodeImage(cmyk);
    expect(c.data.length).toBe(27);
    expect(c.data[0]!).toBeGreaterThan(c.data[1]! + 80); // still red
  });
  it("takes the first frame of an animated GIF", async () => {
    const frames = await sharp({ create: { width: 4, height: 8, channels: 3, background: "#00ff00" } })
      .gif()
      .toBuffer();
    expect((await decodeImage(frames)).height).toBe(8);
  });
  it("names the reason when it cannot decode", async () => {
    const bomb = await rgb(2000, 2000, { r: 0, g: 0, b: 0 }).png().toBuffer();
    await expect(decodeImage(bomb, 1_000_000)).rejects.toMatchObject({ reason: "too-many-pixels" });
    await expect(decodeImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]))).rejects.toMatchObject({
      reason: "corrupt-image",
    });
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from("ftypmp42"), Buffer.alloc(16)]);
    await expect(decodeImage(mp4)).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(decodeImage(mp4)).rejects.toMatchObject({ reason: "unsupported-media" });
  });
});

describe("preprocess", () => {
  it("sizes like Detectron: shortest side to min_size unless the longest passes max_size", () => {
    expect(targetSize(640, 480, 600, 1000)).toEqual([800, 600]);
    expect(targetSize(3000, 1000, 600, 1000)).toEqual([1000, 333]);
    expect(targetSize(480, 640, 800, 1333)).toEqual([800, 1067]); // portrait: 1066.67 rounds half up
    expect(targetSize(1, 1, 600, 1000)).toEqual([600, 600]); // tiny images are upscaled
    // a banner flatter than max_size / 32 keeps a side the backbone can run on
    expect(targetSize(3000, 1, 224, 400)).toEqual([400, 32]);
    expect(targetSize(2, 5000, 224, 400)).toEqual([32, 400]);
  });
  it("interpolates like interpolate(align_corners=False), in BGR minus the mean, CHW", () => {
    // one row [0, 100] in every channel; min_size 2 doubles it to 4 x 2
    const image = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100]) };
    const input = {
      color: "BGR" as const,
      pixel_mean: [10, 20, 30],
      pixel_std: [1, 1, 2],
      min_size: 2,
      max_size: 4,
    };
    const out = preprocess(image, input);
    expect([out.width, out.height]).toEqual([4, 2]);
    expect([...out.data.subarray(0, 4)]).toEqual([0 - 10, 25 - 10, 75 - 10, 100 - 10]); // channel 0 (B), row 0
    expect([...out.data.subarray(2 * 8, 2 * 8 + 4)]).toEqual([-15, -2.5, 22.5, 35]); // channel 2 (R), (v - 30) / 2
  });
  it("puts channels in BGR order", () => {
    const image = { width: 1, height: 1, data: Uint8Array.from([1, 2, 3]) };
    const out = preprocess(image, {
      color: "BGR",
      pixel_mean: [0, 0, 0],
      pixel_std: [1, 1, 1],
      min_size: 1,
      max_size: 1,
    });
    expect([...out.data]).toEqual([3, 2, 1]);
  });
});

describe("Faster R-CNN selection", () => {
  const selection = {
    mode: "caffe" as const,
    pre_nms_topk: 10,
    post_nms_topk: 10,
    rpn_nms: 0.7,
    rpn_min_size: 0,
    caffe_nms: 0.3,
    caffe_conf: 0.2,
    demo_nms: [0.5, 0.9],
  };
  it("nms keeps the higher score of two boxes over the threshold, ties by index", () => {
    const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 12, 20, 20, 30, 30]); // IoU(0, 1) = 100/120
    expect(nms(boxes, [0.5, 0.9, 0.1], 0.8)).toEqual([1, 2]);
    expect(nms(boxes, [0.5, 0.9, 0.1], 0.9)).toEqual([1, 0, 2]);
    expect(nms(boxes, [0.5, 0.5, 0.5], 0.8)).toEqual([0, 2]);
  });
  it("proposals: top-k by objectness, clipped, empty boxes dropped", () => {
    const proposals = Float32Array.from([-5, -5, 50, 50, 60, 60, 60, 80, 10, 10, 20, 20]);
    const out = selectProposals(proposals, Float32Array.from([3, 9, 1]), 40, 40, selection);
    expect([...out]).toEqual([0, 0, 40, 40, 10, 10, 20, 20]); // the 60-wide box clips to zero width
  });
  it("caffe: per-class NMS on proposal boxes, the confident boxes when exactly numBoxes are", () => {
    const rois = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 11, 40, 40, 50, 50]);
    const probs = Float32Array.from([0.5, 0.05, 0.45, 0.4, 0.3, 0.3, 0.1, 0.1, 0.8]); // 2 classes + background
    const s = selectCaffe(probs, rois, 3, 3, 1, 1, selection, 2, 100, 100);
    expect(s.indices).toEqual([0, 1]); // box 1 loses class 0 to box 0 but wins class 1
    expect([...s.scores]).toEqual([Math.fround(0.5), Math.fround(0.3)]);
    expect([...s.boxes.subarray(0, 4)]).toEqual([0, 0, Math.fround(0.1), Math.fround(0.1)]);
  });
  it("demo: class-agnostic NMS retried at the next threshold until numBoxes remain", () => {
    const probs = Float32Array.from([0.9, 0.1, 0.8, 0.2]);
    const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 12]);
    expect(selectDemo(probs, boxes, 2, 2, 100, 100, selection, 2).indices).toEqual([0, 1]);
    expect(selectDemo(probs, boxes, 2, 2, 100, 100, { ...selection, demo_nms: [0.5] }, 2).indices).toEqual([
      0,
    ]);
  });
});

describe("HEIC", () => {
  it("decodes a HEIC photo (heic-decode, as prebuilt sharp cannot)", async () => {
    // 64x48, left half red, right half blue; made with Debian's heif-enc (libheif-examples), see fixtures/README.md
    const bytes = await readFile(new URL("../fixtures/red-blue.heic", import.meta.url));
    expect(sniffMediaType(bytes.subarray(0, 16))).toBe("heic");
    const img = await decodeImage(bytes);
    expect([img.type, img.width, img.height]).toEqual(["heic", 64, 48]);
    const at = (x: number, y: number) => [...img.data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
    const [r1, , b1] = at(8, 24);
    const [r2, , b2] = at(56, 24);
    expect(r1! - b1!).toBeGreaterThan(120); // red stays red through HEVC's lossy coding
    expect(b2! - r2!).toBeGreaterThan(120);
  });

  it("refuses a HEIC over the pixel limit from its header, as sharp's limitInputPixels does for other types", async () => {
    const bytes = await readFile(new URL("../fixtures/red-blue.heic", import.meta.url));
    const refused = decodeImage(bytes, 64 * 48 - 1);
    await expect(refused).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(refused).rejects.toMatchObject({
      reason: "too-many-pixels",
      message: "image has 64x48 pixels, over the 3071 limit",
    });
  });
});
