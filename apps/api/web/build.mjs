// Bundles the review desk (web/src) into dist/web: hashed assets under assets/ (served immutable) and an
// index.html that names them (served no-cache). No CDN: everything the page runs is in the bundle.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../dist/web");
await rm(out, { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(here, "src/main.tsx")],
  bundle: true,
  format: "esm",
  target: ["chrome120", "firefox120"],
  minify: true,
  sourcemap: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => relative(out, p));
const script = outputs.find((p) => p.endsWith(".js"));
const style = outputs.find((p) => p.endsWith(".css"));
if (!script || !style) throw new Error(`esbuild wrote no script or stylesheet: ${outputs.join(", ")}`);
const html = (await readFile(join(here, "index.html"), "utf8"))
  .replace("%SCRIPT%", `assets/${basename(script)}`)
  .replace("%STYLE%", `assets/${basename(style)}`);
await writeFile(join(out, "index.html"), html);
console.log(`review desk: ${relative(process.cwd(), out)} (${script}, ${style})`);
