import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import sharp from "sharp";
import yazl from "yazl";

/** Scenes whose content determines some hashtags (background and shape), captions that determine others. */
const SCENES = [
  { tag: "sunset", sky: "#f08a24", ground: "#5a2d0c" },
  { tag: "ocean", sky: "#7ec8f0", ground: "#1450a0" },
  { tag: "forest", sky: "#cfe8c0", ground: "#1f6b2a" },
  { tag: "snow", sky: "#dfe7ee", ground: "#ffffff" },
] as const;
const SHAPES = [
  { tag: "ball", svg: (c: string) => `<circle cx="128" cy="150" r="45" fill="${c}"/>` },
  { tag: "tower", svg: (c: string) => `<rect x="105" y="40" width="46" height="170" fill="${c}"/>` },
  { tag: "", svg: () => "" },
] as const;
const TOPICS = [
  { tag: "coffee", words: ["espresso", "latte", "morning cup", "cafe"] },
  { tag: "dog", words: ["puppy", "good boy", "walkies", "my dog"] },
  { tag: "travel", words: ["trip", "airport", "passport", "journey"] },
  { tag: "food", words: ["dinner", "pasta", "recipe", "tasty"] },
] as const;
const FILLER = [
  "today",
  "with friends",
  "finally",
  "weekend",
  "so happy",
  "look at this",
  "again",
  "best day",
];

export interface SyntheticPost {
  caption: string;
  image: Buffer;
  hashtags: string[];
}

/** Deterministic pseudo-random numbers (mulberry32), so every run makes the same export. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticPostOptions {
  /**
   * Marks post i's image with the bits of `stamp` (32) and of i (20) as dark squares in a corner of its sky, so no two
   * images of one call share bytes and a new stamp makes images no earlier run stored (a cold RoI cache).
   * @defaultValue none: scenes may repeat, as the seed draws them
   */
  stamp?: number;
}

/** Squares, one per bit of the stamp then of the post's index, in rows of 13 at the image's top left. */
function stampSquares(stamp: number, index: number): string {
  const bits = (stamp >>> 0).toString(2).padStart(32, "0") + (index % 2 ** 20).toString(2).padStart(20, "0");
  return [...bits]
    .map((bit, b) =>
      bit === "1" ? `<rect x="${(b % 13) * 6}" y="${Math.floor(b / 13) * 6}" width="6" height="6"/>` : "",
    )
    .join("");
}

export async function syntheticPosts(
  count: number,
  seed = 1,
  options: SyntheticPostOptions = {},
): Promise<SyntheticPost[]> {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const posts: SyntheticPost[] = [];
  for (let i = 0; i < count; i++) {
    const scene = pick(SCENES);
    const shape = pick(SHAPES);
    const topic = pick(TOPICS);
    const horizon = 110 + Math.floor(rand() * 60);
    const jitter = Math.floor(rand() * 40) - 20;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">
      <rect width="256" height="256" fill="${scene.sky}"/><rect y="${horizon}" width="256" height="${256 - horizon}" fill="${scene.ground}"/>
      <g transform="translate(${jitter},0)">${shape.svg(i % 2 ? "#d01010" : "#202020")}</g>${options.stamp === undefined ? "" : stampSquares(options.stamp, i)}</svg>`;
    const image = await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
    const hashtags = [scene.tag, topic.tag, ...(shape.tag ? [shape.tag] : [])];
    const caption = `${pick(FILLER)} ${pick(topic.words)} ${pick(FILLER)}\n.\n${hashtags.map((h) => `#${h}`).join(" ")}`;
    posts.push({ caption, image, hashtags });
  }
  return posts;
}

/** Meta's latin-1 escaping of UTF-8, as real exports carry it. */
const mojibake = (s: string) => Buffer.from(s, "utf8").toString("latin1");

export interface ExportZipOptions {
  /**
   * Posts whose `image` is the same Buffer share one media file, as reposts of one photo do; files are spread over
   * the parts in order of first use. @defaultValue false (one file per post)
   */
  shareImages?: boolean;
  /** Captions only: posts without media and no media files. @defaultValue false */
  captionsOnly?: boolean;
  /**
   * Bytes of export content that lxtag does not read (a message thread's video), stored uncompressed in the last
   * part: parts as large as real exports' are, without more posts. @defaultValue 0
   */
  otherBytes?: number;
}

/** `bytes` of incompressible content, 1 MiB at a time, so a large entry is never one Buffer in memory. */
async function* otherContent(bytes: number): AsyncGenerator<Buffer> {
  const chunk = randomBytes(2 ** 20);
  for (let left = bytes; left > 0; left -= chunk.length)
    yield chunk.subarray(0, Math.min(left, chunk.length));
}

/**
 * Writes posts as a 2025-layout Instagram export (`your_instagram_activity/media/posts_1.json`, media under
 * `media/posts/YYYYMM/`) split over `parts` zip files: the posts file in the first, media spread over all.
 */
export async function writeExportZips(
  posts: SyntheticPost[],
  paths: string[],
  options: ExportZipOptions = {},
): Promise<void> {
  const zips = paths.map(() => new yazl.ZipFile());
  const shared = new Map<Buffer, string>();
  const entries = posts.map((p, i) => {
    const creation_timestamp = 1_726_000_000 + i * 60;
    if (options.captionsOnly) return { title: mojibake(p.caption), creation_timestamp, media: [] };
    let uri = options.shareImages ? shared.get(p.image) : undefined;
    if (!uri) {
      const n = options.shareImages ? shared.size : i;
      // media ids are 17-digit numbers, past Number.MAX_SAFE_INTEGER: counted as BigInt so no two posts share a file name
      uri = `media/posts/202409/${17_900_000_000_000_000n + BigInt(n)}_n.jpg`;
      zips[n % zips.length]!.addBuffer(p.image, uri);
      if (options.shareImages) shared.set(p.image, uri);
    }
    return { media: [{ uri, creation_timestamp, title: mojibake(p.caption) }] };
  });
  zips[0]!.addBuffer(Buffer.from(JSON.stringify(entries)), "your_instagram_activity/media/posts_1.json");
  if (options.otherBytes)
    zips
      .at(-1)!
      .addReadStream(
        Readable.from(otherContent(options.otherBytes)),
        "your_instagram_activity/messages/inbox/friend_1/videos/video_1.mp4",
        { compress: false, size: options.otherBytes },
      );
  await Promise.all(
    zips.map(async (zip, i) => {
      const out = createWriteStream(paths[i]!);
      zip.outputStream.pipe(out);
      zip.end();
      await once(out, "close");
    }),
  );
}

/**
 * `count` distinct JPEGs of coloured noise, 288 x 288 at quality 80: about 50 kB each, the size of a phone photo in
 * an export; noise so that no two share bytes and none compresses much in the zip.
 */
export async function noisePhotos(count: number, seed = 1): Promise<Buffer[]> {
  const rand = rng(seed);
  const side = 288;
  const photos: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const words = new Uint32Array(Math.ceil((side * side * 3) / 4));
    for (let j = 0; j < words.length; j++) words[j] = rand() * 2 ** 32;
    const raw = Buffer.from(words.buffer, 0, side * side * 3);
    photos.push(
      await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
        .jpeg({ quality: 80 })
        .toBuffer(),
    );
  }
  return photos;
}
