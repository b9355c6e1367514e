// The review desk in Firefox: Debian's stock `firefox-esr`, driven over WebDriver BiDi by puppeteer-core (Playwright
// drives only its own patched Firefox build). A smoke test against a real API process, Postgres and Redis: sign in,
// see the batch list, open a batch's grid, correct a post's hashtags with the keyboard alone, find the labels in
// Postgres. The batch is written straight into Postgres (the Chromium test covers upload and processing).
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { modelManifestSchema } from "@lxtag/contracts";
import { createDb, type NewPost, postId, repositories } from "@lxtag/db";
import { examplePost } from "@lxtag/db/testing";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { LocalStack } from "./stack.js";

const FIREFOX = "/usr/bin/firefox-esr";
const root = fileURLToPath(new URL("../../", import.meta.url));
const REVIEWER = "Fox Reviewer";
const HASHTAGS = ["sunset", "beach", "travel", "food", "coffee"];

const key = `key-firefox-${randomUUID()}`;
const stack = new LocalStack({
  LXTAG_QUEUE_PREFIX: `lxtag-ff-${randomUUID().slice(0, 8)}`,
  LXTAG_API_KEYS: `firefox:${key}`,
  LXTAG_LOG_LEVEL: "error",
});
const db = createDb(loadConfig().DATABASE_URL);
const repos = repositories(db);
const batchId = randomUUID();
let modelId: string | undefined;
let browser: Browser;

function newPost(seq: number): NewPost {
  return examplePost(seq, {
    externalId: `ff-${seq}`,
    dedupKey: `ff-${seq}`,
    caption: `Evening walk ${seq} #sunset`,
    modelText: `Evening walk ${seq}`,
    flags: ["caption-only"],
    hashtags: ["sunset"],
  });
}

beforeAll(async () => {
  if (!existsSync(FIREFOX))
    throw new Error(`${FIREFOX} is missing: run npm run setup (it installs firefox-esr)`);
  if (!existsSync(join(root, "apps/api/dist/web/index.html")))
    throw new Error("the review desk is not built: run npm run setup (or node apps/api/web/build.mjs)");
  const [, launched] = await Promise.all([
    stack.startAll(["api"]),
    puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true }),
  ]);
  browser = launched;
  const apiKeyId = (await repos.apiKeys.verify(key))!;
  const manifest = modelManifestSchema.parse({
    format: "lxtag-model/1",
    id: `firefox-desk-${randomUUID().slice(0, 8)}`,
    architecture: "lxmert4hashtag",
    config: {},
    hashtags: HASHTAGS,
    max_length: 32,
    detector: "firefox-detector",
    metrics: {},
    dataset: { id: "firefox", posts: 0 },
    created_at: new Date().toISOString(),
    files: {},
  });
  // registered, never activated: what other processes serve stays as it was
  modelId = (await repos.models.register(manifest, `models/${manifest.id}/`)).id;
  await repos.batches.create(batchId, apiKeyId, { type: "json", key: `uploads/${batchId}/posts.json` }, {});
  const posts = [0, 1, 2].map(newPost);
  await repos.posts.insertMany(batchId, posts);
  await repos.posts.savePredictions(
    modelId,
    posts.map((p) => ({
      postId: postId(batchId, p.dedupKey),
      ranked: HASHTAGS.map((hashtag, i) => ({ hashtag, score: 0.9 - i * 0.15 })),
    })),
  );
  await repos.batches.markIngested(batchId, []);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack.stop();
  await db.pool.query("DELETE FROM batches WHERE id = $1", [batchId]);
  if (modelId) await db.pool.query("DELETE FROM model_versions WHERE id = $1", [modelId]);
  await db.close();
});

const attribute = (page: Page, selector: string, name: string) =>
  page.$eval(selector, (el, n) => el.getAttribute(n), name).catch(() => null);
const text = (page: Page, selector: string) => page.$eval(selector, (el) => el.textContent).catch(() => null);

describe("the review desk in Firefox", () => {
  it("signs in, lists the batch, shows its grid and corrects a post with the keyboard alone", async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 860 });
    await page.goto(`${stack.baseUrl}/`);
    await page.type("#api-key", key);
    await page.type("#reviewer", REVIEWER);
    await page.click("button[type=submit]");
    const row = `tr[data-batch="${batchId}"][data-state="done"]`;
    await page.waitForSelector(row);

    await page.click(`${row} a[href*="/batches/${batchId}"]`);
    await expect.poll(() => page.$$eval(".grid .card", (cards) => cards.length)).toBe(3);
    const href = (await attribute(page, ".grid .card .card-link", "href"))!;
    const id = /[?&]post=([0-9a-f-]+)/.exec(href)![1]!;
    await page.click(".grid .card .card-link");
    const pane = '[data-testid="review-pane"]';
    await expect.poll(() => attribute(page, pane, "data-post"), { timeout: 10_000 }).toBe(id);

    const status = '[data-testid="review-status"]';
    await page.keyboard.press("a"); // accept the top 3
    await expect.poll(() => text(page, status)).toMatch(/^accepted #/);
    await page.keyboard.press("l"); // focus the next hashtag
    const focused = `${pane} ul[aria-label="predicted hashtags"] button.chip-focus`;
    await expect.poll(() => attribute(page, focused, "data-hashtag")).toBe(HASHTAGS[1]);
    await page.keyboard.press("x"); // and reject it
    await expect.poll(() => text(page, status)).toBe(`rejected #${HASHTAGS[1]}`);

    const labels = await db.pool.query<{ hashtag: string; positive: boolean; reviewer: string }>(
      "SELECT hashtag, positive, reviewer FROM labels WHERE post_id = $1 AND source = 'human' ORDER BY hashtag",
      [id],
    );
    expect(labels.rows).toEqual([
      { hashtag: "beach", positive: false, reviewer: REVIEWER },
      { hashtag: "sunset", positive: true, reviewer: REVIEWER },
      { hashtag: "travel", positive: true, reviewer: REVIEWER },
    ]);
  });
});
