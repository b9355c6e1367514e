-- Ingest progress: records of the export read (stored and enqueued) so far, and how many the export holds once its
-- posts files are parsed; the batch summary shows them while the batch is ingesting.
ALTER TABLE "batches" ADD COLUMN "ingest_posts_read" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "batches" ADD COLUMN "ingest_posts_total" INTEGER;
