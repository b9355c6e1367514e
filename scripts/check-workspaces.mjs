// Fails when a workspace has no `test` script (turbo would skip it silently) or when a workspace imports an app
// (apps are deployed, never imported: apps -> packages; e2e and bench run apps as processes).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { workspaceDirs } from "./workspaces.mjs";

const NO_TESTS = new Set(["bench"]); // benchmarks measure; they assert nothing
const workspaces = workspaceDirs();
const apps = new Set(readdirSync("apps").map((name) => `@lxtag/${name}`));
const problems = [];
for (const dir of workspaces) {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (!pkg.scripts?.test && !NO_TESTS.has(dir)) problems.push(`${dir} has no test script`);
  const deps = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const name of Object.keys(deps))
    if (apps.has(name) && name !== pkg.name) problems.push(`${dir} depends on the app ${name}`);
  const walk = (d) => {
    for (const entry of readdirSync(d)) {
      if (entry === "node_modules" || entry === "dist" || entry === "generated") continue;
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith(".ts"))
        for (const [, name] of readFileSync(path, "utf8").matchAll(/from "(@lxtag\/[a-z-]+)/g))
          if (apps.has(name) && name !== pkg.name) problems.push(`${path} imports the app ${name}`);
    }
  };
  walk(dir);
}
if (problems.length) {
  console.error(`workspace check failed:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`workspace check: ${workspaces.length} workspaces, each tested, none imports an app`);
