-- CreateEnum
CREATE TYPE "BatchState" AS ENUM ('queued', 'ingesting', 'processing', 'done', 'failed');

-- CreateEnum
CREATE TYPE "PostState" AS ENUM ('pending', 'featurizing', 'predicting', 'done', 'failed');

-- CreateEnum
CREATE TYPE "MediaKind" AS ENUM ('image', 'video', 'unknown');

-- CreateEnum
CREATE TYPE "ModelState" AS ENUM ('candidate', 'active', 'retired');

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "batches" (
    "id" UUID NOT NULL,
    "api_key_id" UUID NOT NULL,
    "state" "BatchState" NOT NULL DEFAULT 'queued',
    "source" JSONB NOT NULL,
    "options" JSONB NOT NULL DEFAULT '{}',
    "total_posts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "warnings" JSONB NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ingested_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "posts" (
    "id" UUID NOT NULL,
    "batch_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "external_id" TEXT,
    "dedup_key" TEXT NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'post',
    "source_file" TEXT,
    "caption" TEXT NOT NULL,
    "model_text" TEXT NOT NULL,
    "taken_at" TIMESTAMPTZ(3),
    "taken_at_raw" TEXT,
    "state" "PostState" NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "flags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "image_sha256" TEXT,
    "image_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "featurized_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "posts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "media" (
    "post_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "uri" TEXT NOT NULL,
    "kind" "MediaKind" NOT NULL,
    "mime" TEXT,
    "present" BOOLEAN NOT NULL,
    "sha256" TEXT,
    "object_key" TEXT,
    "bytes" INTEGER,

    CONSTRAINT "media_pkey" PRIMARY KEY ("post_id","position")
);

-- CreateTable
CREATE TABLE "labels" (
    "post_id" UUID NOT NULL,
    "hashtag" TEXT NOT NULL,
    "positive" BOOLEAN NOT NULL DEFAULT true,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "labels_pkey" PRIMARY KEY ("post_id","hashtag","source")
);

-- CreateTable
CREATE TABLE "model_versions" (
    "id" TEXT NOT NULL,
    "architecture" TEXT NOT NULL,
    "state" "ModelState" NOT NULL DEFAULT 'candidate',
    "bundle_prefix" TEXT NOT NULL,
    "detector_id" TEXT NOT NULL,
    "hashtags" INTEGER NOT NULL,
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "manifest" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activated_at" TIMESTAMPTZ(3),

    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "predictions" (
    "post_id" UUID NOT NULL,
    "model_version_id" TEXT NOT NULL,
    "rank" INTEGER NOT NULL,
    "hashtag" TEXT NOT NULL,
    "score" REAL NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "predictions_pkey" PRIMARY KEY ("post_id","model_version_id","rank")
);

-- CreateTable
CREATE TABLE "training_runs" (
    "id" UUID NOT NULL,
    "state" TEXT NOT NULL,
    "model_version_id" TEXT,
    "dataset_id" TEXT NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "log" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "training_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "batches_api_key_id_created_at_idx" ON "batches"("api_key_id", "created_at");

-- CreateIndex
CREATE INDEX "posts_batch_id_state_seq_idx" ON "posts"("batch_id", "state", "seq");

-- CreateIndex
CREATE INDEX "posts_image_sha256_idx" ON "posts"("image_sha256");

-- CreateIndex
CREATE UNIQUE INDEX "posts_batch_id_dedup_key_key" ON "posts"("batch_id", "dedup_key");

-- CreateIndex
CREATE INDEX "labels_hashtag_idx" ON "labels"("hashtag");

-- AddForeignKey
ALTER TABLE "batches" ADD CONSTRAINT "batches_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts" ADD CONSTRAINT "posts_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "media" ADD CONSTRAINT "media_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "labels" ADD CONSTRAINT "labels_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;
