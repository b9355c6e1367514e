-- Records of an export merged into an identical earlier post (same caption, image, timestamp and media URIs, or the
-- same external id): the batch reports them instead of dropping them silently.
ALTER TABLE "batches" ADD COLUMN "duplicate_posts" INTEGER NOT NULL DEFAULT 0;
