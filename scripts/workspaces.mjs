// The monorepo's workspace folders, as the root package.json's `workspaces` patterns name them (`dir/*` or `dir`).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function workspaceDirs() {
  const root = JSON.parse(readFileSync("package.json", "utf8"));
  return root.workspaces.flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(pattern.slice(0, -2)).map((name) => join(pattern.slice(0, -2), name))
      : [pattern],
  );
}
