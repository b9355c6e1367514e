export type MediaType = "jpeg" | "png" | "webp" | "gif" | "heic" | "mp4" | "mov" | "unknown";

const HEIF_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"]);
const MP4_BRANDS = new Set([
  "isom",
  "iso2",
  "iso4",
  "iso5",
  "iso6",
  "mp41",
  "mp42",
  "avc1",
  "dash",
  "M4V ",
  "3gp4",
  "3gp5",
]);

/** The media type from magic bytes; file names and extensions are never trusted (exports get them wrong). */
export function sniffMediaType(head: Uint8Array): MediaType {
  const b = head;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 4 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (b.length >= 4 && ascii(0, 4) === "GIF8") return "gif";
  if (b.length >= 12 && ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (HEIF_BRANDS.has(brand)) return "heic";
    if (brand === "qt  ") return "mov";
    if (MP4_BRANDS.has(brand) || brand.startsWith("mp4")) return "mp4";
  }
  return "unknown";
}

export const isImage = (t: MediaType) =>
  t === "jpeg" || t === "png" || t === "webp" || t === "gif" || t === "heic";
export const isVideo = (t: MediaType) => t === "mp4" || t === "mov";

export const MIME: Record<MediaType, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  mp4: "video/mp4",
  mov: "video/quicktime",
  unknown: "application/octet-stream",
};
