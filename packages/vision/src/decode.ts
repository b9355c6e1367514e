import heicDecode from "heic-decode";
import sharp, { type Sharp } from "sharp";
import { isImage, type MediaType, sniffMediaType } from "./media-type.js";

/** 8-bit RGB pixels, row-major, EXIF orientation applied, alpha composited on white. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
  constructor(
    readonly reason: "unsupported-media" | "corrupt-image" | "too-many-pixels",
    message: string,
  ) {
    super(message);
  }
}

/** Decompression-bomb guard: images above this many pixels are refused before decoding. @defaultValue 50 MP */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/**
 * Decodes a HEIC's first image, refusing one over `maxPixels` from its header (libheif reads the container and the
 * image sizes first; the pixels are decoded only by `decode()`), so a decompression bomb is never decoded.
 */
async function decodeHeic(
  bytes: Uint8Array,
  maxPixels: number,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  // prebuilt sharp has no HEVC decoder; heic-decode is libheif compiled to JS
  const images = await heicDecode.all({ buffer: bytes });
  try {
    const first = images[0];
    if (!first) throw new ImageDecodeError("corrupt-image", "HEIC file without an image");
    if (first.width * first.height > maxPixels)
      throw new ImageDecodeError(
        "too-many-pixels",
        `image has ${first.width}x${first.height} pixels, over the ${maxPixels} limit`,
      );
    const img = await first.decode();
    return {
      width: img.width,
      height: img.height,
      data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
    };
  } finally {
    images.dispose();
  }
}

export async function decodeImage(
  bytes: Uint8Array,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<RgbImage & { type: MediaType }> {
  const type = sniffMediaType(bytes.subarray(0, 16));
  if (!isImage(type))
    throw new ImageDecodeError("unsupported-media", `not a supported image (sniffed: ${type})`);
  try {
    let pipeline: Sharp;
    if (type === "heic") {
      const img = await decodeHeic(bytes, maxPixels);
      pipeline = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
    } else {
      // pages: 1 keeps the first frame of animated GIF/WebP; limitInputPixels refuses decompression bombs
      pipeline = sharp(bytes, { pages: 1, limitInputPixels: maxPixels, failOn: "error" }).rotate();
    }
    const { data, info } = await pipeline
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3)
      throw new ImageDecodeError("corrupt-image", `decoded to ${info.channels} channels`);
    return {
      type,
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(msg)) throw new ImageDecodeError("too-many-pixels", msg);
    throw new ImageDecodeError("corrupt-image", `cannot decode ${type} image: ${msg}`);
  }
}
