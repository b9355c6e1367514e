-- Caption hashtags are derived from the caption: keep them on the post row instead of one labels row each
-- (ingest writes a third fewer rows); the labels table keeps human corrections.

-- DropIndex
DROP INDEX "posts_image_sha256_idx";

-- AlterTable
ALTER TABLE "posts" ADD COLUMN "hashtags" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- Move existing caption labels
UPDATE "posts" p SET "hashtags" = l.tags
FROM (SELECT "post_id", array_agg("hashtag" ORDER BY "hashtag") AS tags FROM "labels" WHERE "source" = 'caption' GROUP BY "post_id") l
WHERE l."post_id" = p."id";
DELETE FROM "labels" WHERE "source" = 'caption';
