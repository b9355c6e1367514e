-- Admin API keys manage the model registry; a label row names the reviewer who made the correction.

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN "admin" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "labels" ADD COLUMN "reviewer" TEXT;
