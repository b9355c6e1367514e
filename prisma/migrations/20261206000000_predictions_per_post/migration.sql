-- A model's ranking of a post is one row (its hashtags and scores in rank order) instead of a row per rank. The
-- predict worker writes a row per post: ten rows a post cost Postgres three times the CPU (ten primary-key entries
-- and twenty foreign-key checks), a third of a core-ms a post on the predict path, more than the model did.
ALTER TABLE "predictions" RENAME TO "predictions_by_rank";
ALTER TABLE "predictions_by_rank" RENAME CONSTRAINT "predictions_pkey" TO "predictions_by_rank_pkey";

CREATE TABLE "predictions" (
    "post_id" UUID NOT NULL,
    "model_version_id" TEXT NOT NULL,
    "hashtags" TEXT[],
    "scores" REAL[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "predictions_pkey" PRIMARY KEY ("post_id","model_version_id"),
    -- a ranking ranks something, each hashtag with its score, none of them null (Prisma's lists cannot say so)
    CONSTRAINT "predictions_ranked_check" CHECK (
      "hashtags" IS NOT NULL AND "scores" IS NOT NULL
      AND cardinality("hashtags") > 0 AND cardinality("hashtags") = cardinality("scores")
      AND array_position("hashtags", NULL) IS NULL AND array_position("scores", NULL) IS NULL)
);

INSERT INTO "predictions" ("post_id", "model_version_id", "hashtags", "scores", "created_at")
SELECT "post_id", "model_version_id", array_agg("hashtag" ORDER BY "rank"), array_agg("score" ORDER BY "rank"),
       max("created_at")
FROM "predictions_by_rank"
GROUP BY "post_id", "model_version_id";

DROP TABLE "predictions_by_rank";

ALTER TABLE "predictions" ADD CONSTRAINT "predictions_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

ANALYZE "predictions";
