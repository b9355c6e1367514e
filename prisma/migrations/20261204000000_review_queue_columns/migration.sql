-- The review desk filters and orders a batch's posts by their newest predictions. Computed per page from the
-- predictions table, the uncertainty queue read every prediction of the batch (2 s at 100,000 posts) and the hashtag
-- filter every prediction of the hashtag. Stored on the post when its predictions are written (savePredictions, and
-- overwritten when a relabel writes newer ones), each filter and order reads an index of posts.

-- btree_gin lets one GIN index hold the batch beside the arrays, so a rare flag or hashtag is found within its batch
-- without reading the batch. It is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- uncertainty: the distance from 0.5 of the least certain newest score, 1 (beyond any distance) without predictions
-- so that the queue ends with such posts; top_score: the best newest score; predicted_hashtags: in rank order
ALTER TABLE "posts" ADD COLUMN "uncertainty" DOUBLE PRECISION NOT NULL DEFAULT 1,
  ADD COLUMN "top_score" REAL,
  ADD COLUMN "predicted_hashtags" TEXT[] DEFAULT ARRAY[]::TEXT[];

WITH latest AS (
  SELECT DISTINCT ON (post_id) post_id, model_version_id FROM "predictions" ORDER BY post_id, created_at DESC
), newest AS (
  SELECT pr.post_id, min(abs(pr.score::float8 - 0.5)) AS uncertainty, max(pr.score) AS top_score,
         array_agg(pr.hashtag ORDER BY pr.rank) AS hashtags
  FROM "predictions" pr JOIN latest l USING (post_id, model_version_id)
  GROUP BY pr.post_id
)
UPDATE "posts" p SET "uncertainty" = n.uncertainty, "top_score" = n.top_score, "predicted_hashtags" = n.hashtags
FROM newest n WHERE p.id = n.post_id;

-- the queue, its first page and later ones: keyset on (uncertainty, seq)
CREATE INDEX "posts_batch_id_uncertainty_seq_idx" ON "posts"("batch_id", "uncertainty", "seq");
-- best score below a threshold
CREATE INDEX "posts_batch_id_top_score_idx" ON "posts"("batch_id", "top_score");
-- a flag, or a hashtag predicted or in the caption, within a batch
CREATE INDEX "posts_review_filters_idx" ON "posts" USING GIN ("batch_id", "flags", "hashtags", "predicted_hashtags");

-- the planner's statistics for the new columns, before the first page asks for them
ANALYZE "posts";
