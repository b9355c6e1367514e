import type { LabelsBody, PostDetail } from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import { normalizeHashtag } from "@lxtag/text";
import { DEFAULT_MAX_PIXELS } from "@lxtag/vision";
import sharp from "sharp";
import { NoThumbnailError, NotFoundError } from "../errors.js";

/** A resized image and the validator that names it (its image's sha256 and the size). */
export interface Thumbnail {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** One post of a key's batches, its thumbnail, and human corrections of its hashtags. */
export class PostService {
  constructor(
    private readonly repos: Repositories,
    private readonly store: ObjectStore,
  ) {}

  async find(id: string, apiKeyId: string): Promise<PostDetail> {
    const post = await this.repos.results.post(id, apiKeyId);
    if (!post) throw new NotFoundError("post", id);
    return post;
  }

  /** Applies labels (normalized like caption hashtags), with their reviewer, and answers the post as it is now. */
  async label(id: string, apiKeyId: string, body: LabelsBody): Promise<PostDetail> {
    const post = await this.find(id, apiKeyId);
    const [add, remove] = [body.add.map(normalizeHashtag), body.remove.map(normalizeHashtag)];
    await this.repos.labels.apply(post.id, add, remove, { reviewer: body.reviewer });
    return this.find(id, apiKeyId);
  }

  /** The validator a thumbnail of this post and size would carry, without reading the image (for 304s). */
  async thumbnailTag(id: string, apiKeyId: string, size: number): Promise<string> {
    return (await this.storedImage(id, apiKeyId, size)).etag;
  }

  /**
   * The post's stored image, EXIF-rotated and resized to fit `size` (never enlarged), as WebP: the review desk's
   * grid never downloads an original.
   */
  async thumbnail(id: string, apiKeyId: string, size: number): Promise<Thumbnail> {
    const { key, etag } = await this.storedImage(id, apiKeyId, size);
    let bytes: Buffer;
    try {
      bytes = await this.store.get(key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError)
        throw new NoThumbnailError(id, "its image is gone from storage");
      throw err;
    }
    try {
      const body = await sharp(bytes, { limitInputPixels: DEFAULT_MAX_PIXELS })
        .rotate()
        .resize(size, size, { fit: "inside", withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer();
      return { body, contentType: "image/webp", etag };
    } catch (err) {
      throw new NoThumbnailError(id, `its image does not decode (${(err as Error).message})`);
    }
  }

  private async storedImage(
    id: string,
    apiKeyId: string,
    size: number,
  ): Promise<{ key: string; etag: string }> {
    const post = await this.repos.posts.imageForKey(id, apiKeyId);
    if (!post) throw new NotFoundError("post", id);
    // JSON posts may name an https image: the API does not fetch other servers for a thumbnail
    if (!post.imageKey || /^https?:/i.test(post.imageKey))
      throw new NoThumbnailError(id, "no stored image (caption-only, video or linked image)");
    return { key: post.imageKey, etag: `"${post.imageSha256 ?? id}-${size}"` };
  }
}
