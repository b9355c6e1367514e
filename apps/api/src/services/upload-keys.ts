/**
 * Which S3 objects an API key may name. Everything a key uploads lives under its own prefix,
 * `uploads/<apiKeyId>/`, and a batch may read only objects there: `s3Keys` entries and the S3 keys of JSON posts'
 * images. Other keys' uploads, content-addressed images and lxtag's own objects (`detectors/`, `models/`, RoI
 * caches) are out of reach, whether they exist or not.
 */
export const uploadPrefix = (apiKeyId: string) => `uploads/${apiKeyId}/`;

/** The name of a JSON batch's posts, sent as a body or as a file, under its upload folder. */
export const POSTS_JSON = "posts.json";

/** Where a key's upload (a zip part, the posts of a JSON batch) is written. */
export const uploadKey = (apiKeyId: string, batchId: string, name: string) =>
  `${uploadPrefix(apiKeyId)}${batchId}/${name}`;

/**
 * Why `key` is not one the API key may read (a phrase that follows "is"), or undefined when it is. Beyond the prefix, no segment may be empty,
 * `.` or `..` (an HTTP client or a file-backed S3 server may resolve them into another key's folder), nor hold
 * control characters.
 */
export function foreignKeyReason(apiKeyId: string, key: string): string | undefined {
  const prefix = uploadPrefix(apiKeyId);
  if (!key.startsWith(prefix)) return `not under this API key's prefix ${prefix}`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (/[\u0000-\u001f\u007f]/.test(key)) return "a key with control characters";
  const segments = key.slice(prefix.length).split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".."))
    return "a key with an empty, '.' or '..' path segment";
  return undefined;
}
