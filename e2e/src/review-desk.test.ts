// The review desk in headless Chromium (Debian's `chromium`, driven by playwright-core) against the real API,
// Redis, Postgres and S3 stack with its workers: upload an export from the page, watch it finish, correct a post's
// hashtags with the keyboard alone, find the labels in Postgres; another key sees none of it.
// With LXTAG_SCREENSHOTS=<dir> (relative to the repository root) it saves the three main screens there as PNG.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { IsolatedPipeline } from "./isolated-pipeline.js";
import { syntheticPosts, writeExportZips } from "./synthetic-export.js";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("../../", import.meta.url));
const { LXTAG_SCREENSHOTS: shotsDir } = z
  .object({ LXTAG_SCREENSHOTS: z.string().min(1).optional() })
  .parse(process.env);
const REVIEWER = "Robin Reviewer";

const t = new IsolatedPipeline({ LXTAG_MAX_WAIT_MS: "20" });
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run npm run setup (it installs chromium)`);
  if (!existsSync(join(root, "apps/api/dist/web/index.html")))
    throw new Error("the review desk is not built: run npm run setup (or node apps/api/web/build.mjs)");
  await t.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await t.stop();
});

async function signedIn(key: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${t.client.baseUrl}/`);
  await page.getByLabel("API key").fill(key);
  await page.getByLabel(/Your name/).fill(REVIEWER);
  await page.getByRole("button", { name: "Open the desk" }).click();
  await page.getByRole("heading", { name: "Batches" }).waitFor();
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (shotsDir) await page.screenshot({ path: resolve(root, shotsDir, `review-desk-${name}.png`) });
}

describe("the review desk", () => {
  let page: Page;
  let batchId: string;

  it("uploads an export from the page and shows the batch moving until it is done", async () => {
    page = await signedIn(t.key);
    expect(page.url()).not.toContain(t.key); // the key is never in a URL
    const parts = [1, 2].map((i) => join(t.work, `desk-export-${i}.zip`));
    await writeExportZips(await syntheticPosts(16, 11), parts);
    await page.setInputFiles("#export-input", parts);
    const accepted = page.getByText(/^batch [0-9a-f-]{36} accepted$/);
    await accepted.waitFor({ timeout: 30_000 });
    batchId = /batch ([0-9a-f-]{36})/.exec((await accepted.textContent()) ?? "")![1]!;
    const row = page.locator(`tr[data-batch="${batchId}"]`);
    await row.waitFor();
    await page.locator(`tr[data-batch="${batchId}"][data-state="done"]`).waitFor({ timeout: 150_000 });
    expect(await row.locator(".batch-progress").textContent()).toBe("100%");
    await shot(page, "batches");

    // posts as a JSON file go the same way, streamed like zip parts
    const json = join(t.work, "desk-posts.json");
    await writeFile(
      json,
      JSON.stringify({ posts: [{ caption: "desk #json" }, { caption: "second #json" }] }),
    );
    await page.setInputFiles("#export-input", json);
    const jsonAccepted = page.getByText(new RegExp(`^batch (?!${batchId})[0-9a-f-]{36} accepted$`));
    await jsonAccepted.waitFor({ timeout: 30_000 });
    const jsonBatch = /batch ([0-9a-f-]{36})/.exec((await jsonAccepted.textContent()) ?? "")![1]!;
    await page.locator(`tr[data-batch="${jsonBatch}"][data-state="done"]`).waitFor({ timeout: 60_000 });
    const summary = (await (await t.client.get(`/v1/batches/${jsonBatch}`)).json()) as {
      counts: Record<string, number>;
    };
    expect(summary.counts).toMatchObject({ done: 2, failed: 0 });
  }, 260_000);

  it("shows the posts as a grid of thumbnails with predicted hashtags, filtered by flag", async () => {
    await page.locator(`tr[data-batch="${batchId}"]`).getByRole("link", { name: "Posts" }).click();
    await expect.poll(() => page.locator(".grid .card").count()).toBe(16);
    await expect.poll(() => page.locator(".grid .card img.thumb").count(), { timeout: 20_000 }).toBe(16);
    const size = await page
      .locator(".grid .card img.thumb")
      .first()
      // runs in the page (an HTMLImageElement there; this program is typed without the DOM's names)
      .evaluate((img) => {
        const { naturalWidth, naturalHeight } = img as unknown as {
          naturalWidth: number;
          naturalHeight: number;
        };
        return [naturalWidth, naturalHeight];
      });
    expect(Math.max(...size)).toBeLessThanOrEqual(256); // a thumbnail, not the original
    expect(await page.locator(".grid .card").first().locator(".chip").count()).toBeGreaterThan(0);
    await shot(page, "posts");
    await page.getByLabel("Flag").selectOption("video");
    await page.getByText("No posts match these filters.").waitFor();
    await page.getByLabel("Flag").selectOption("");
    await expect.poll(() => page.locator(".grid .card").count()).toBe(16);
  }, 60_000);

  it("corrects a post's hashtags with the keyboard alone, each action a label with the reviewer's name", async () => {
    const link = page.locator(".grid .card .card-link").first();
    const postId = /[?&]post=([0-9a-f-]+)/.exec((await link.getAttribute("href"))!)![1]!;
    await link.click();
    const pane = page.getByTestId("review-pane");
    await pane.waitFor();
    // the pane may show the batch's first post until the one clicked has loaded
    await expect.poll(() => pane.getAttribute("data-post"), { timeout: 10_000 }).toBe(postId);
    const chips = await pane
      .locator('ul[aria-label="predicted hashtags"] button.chip')
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-hashtag")!));
    expect(chips.length).toBeGreaterThanOrEqual(3);
    const status = page.getByTestId("review-status");

    await page.keyboard.press("a"); // accept the top 3
    await expect.poll(() => status.textContent()).toMatch(/^accepted #/);
    await page.keyboard.press("l"); // focus the next chip
    const focusedChip = pane.locator('ul[aria-label="predicted hashtags"] button.chip-focus');
    await expect.poll(() => focusedChip.getAttribute("data-hashtag")).not.toBe(chips[0]);
    const rejected = (await focusedChip.getAttribute("data-hashtag"))!;
    await page.keyboard.press("x"); // and reject it
    await expect.poll(() => status.textContent()).toBe(`rejected #${rejected}`);
    await page.keyboard.press("i"); // type a hashtag with autocomplete
    await page.keyboard.type("handmade");
    await page.keyboard.press("Enter");
    await expect.poll(() => status.textContent()).toBe("added #handmade");
    await expect.poll(() => page.getByTestId("labels").textContent()).toContain("#handmade");
    await shot(page, "review");

    const rows = await t.db.pool.query<{ hashtag: string; positive: boolean; reviewer: string }>(
      "SELECT hashtag, positive, reviewer FROM labels WHERE post_id = $1 AND source = 'human' ORDER BY hashtag",
      [postId],
    );
    const decided = new Map<string, boolean>(chips.slice(0, 3).map((h) => [h, true]));
    decided.set(rejected, false);
    decided.set("handmade", true);
    const expected = [
      ...[...decided].map(([hashtag, positive]) => ({ hashtag, positive, reviewer: REVIEWER })),
    ].sort((a, b) => a.hashtag.localeCompare(b.hashtag));
    expect(rows.rows).toEqual(expected);

    await page.keyboard.press("j"); // the next post
    await expect.poll(() => pane.getAttribute("data-post")).not.toBe(postId);
    await page.keyboard.press("k"); // and back
    await expect.poll(() => pane.getAttribute("data-post")).toBe(postId);
  }, 60_000);

  it("the queue mode orders posts by uncertainty: scores nearest 0.5 first", async () => {
    await page.goto(`${t.client.baseUrl}/desk/#/review/${batchId}?order=uncertainty&state=done`);
    const pane = page.getByTestId("review-pane");
    await pane.waitFor();
    const api = await t.client.get(`/v1/batches/${batchId}/posts?order=uncertainty&state=done&limit=1`);
    const first = ((await api.json()) as { posts: { id: string }[] }).posts[0]!.id;
    // the desk is one page: the pane of the previous test shows its post until the queue's first has loaded
    await expect.poll(() => pane.getAttribute("data-post"), { timeout: 10_000 }).toBe(first);
  }, 30_000);

  it("shows an admin a model a predict worker refused, and asks before trying it again", async () => {
    const refused = await t.publishRandomModel("desk-refused", { hashtags: 12 }); // registered, not activated
    await t.repos.models.refuse(refused, "the model scores 12 hashtags, its manifest names 13");
    const admin = await signedIn(t.adminKey);
    await admin.goto(`${t.client.baseUrl}/desk/#/models`);
    const item = admin.locator("li.model").filter({ has: admin.getByRole("heading", { name: refused }) });
    await item.getByText(/^Refused by a predict worker \(lxtag e2e pid \d+ on /).waitFor({ timeout: 10_000 });
    expect(await item.textContent()).toContain("its manifest names 13");
    const asked: string[] = [];
    admin.once("dialog", (d) => {
      asked.push(d.message());
      void d.dismiss(); // nothing is activated
    });
    await item.getByRole("button", { name: "Try again…" }).click();
    await expect
      .poll(() => asked)
      .toEqual([expect.stringMatching(/^A predict worker refused model .* Try it again\?/)]);
    expect((await t.repos.models.find(refused))?.state).toBe("candidate");
    expect((await t.repos.models.find(refused))?.refusedAt).toBeInstanceOf(Date);
    await admin.context().close();
  }, 60_000);

  it("another key sees none of this key's batches", async () => {
    const theirs = await signedIn(t.otherKey);
    await theirs.getByText("No batches yet").waitFor();
    expect(await theirs.locator(`tr[data-batch="${batchId}"]`).count()).toBe(0);
    await theirs.goto(`${t.client.baseUrl}/desk/#/batches/${batchId}`);
    await theirs.getByText(`batch ${batchId} not found`).first().waitFor();
    await theirs.context().close();
  }, 30_000);
});
