// Type-checks every workspace's sources with its tests and test helpers, which its build leaves out (vitest only
// strips their types): a test that no longer matches the code it drives fails here, not at run time or never.
// Runs after the build (workspaces see each other through their built declarations), two workspaces at a time.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { workspaceDirs } from "./workspaces.mjs";

const workspaces = workspaceDirs().filter(
  (dir) => existsSync(join(dir, "tsconfig.json")) && existsSync(join(dir, "src")),
);
const configs = mkdtempSync(join(tmpdir(), "lxtag-typecheck-"));
const tsc = resolve("node_modules/typescript/bin/tsc");

const check = (dir) => {
  const config = join(configs, `${dir.replaceAll("/", "-")}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      extends: resolve(dir, "tsconfig.json"),
      compilerOptions: {
        noEmit: true,
        composite: false,
        incremental: false,
        rootDir: resolve(dir, "src"),
        // types resolve from where the config is, here a temporary folder
        typeRoots: [resolve("node_modules/@types")],
      },
      include: [resolve(dir, "src")],
      exclude: [],
    }),
  );
  return new Promise((done) =>
    // tsc prints its errors on stdout; a tsc that could not run says why in the error alone
    execFile(process.execPath, [tsc, "-p", config], (err, stdout) =>
      done({ dir, ok: !err, out: stdout || err?.message || "" }),
    ),
  );
};

const failed = [];
const queue = [...workspaces];
await Promise.all(
  [1, 2].map(async () => {
    for (let dir = queue.shift(); dir; dir = queue.shift()) {
      const result = await check(dir);
      if (!result.ok) failed.push(result);
    }
  }),
);
rmSync(configs, { recursive: true, force: true });
if (failed.length) {
  for (const { dir, out } of failed) console.error(`${dir}:\n${out}`);
  console.error(`type check failed in ${failed.map((f) => f.dir).join(", ")}`);
  process.exit(1);
}
console.log(`type check: ${workspaces.length} workspaces, tests included`);
