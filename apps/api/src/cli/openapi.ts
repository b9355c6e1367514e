// Prints the API's OpenAPI document as JSON on stdout (`node apps/api/dist/cli/openapi.js > openapi.json`), so a
// client can be generated from it. Logs are silenced: stdout carries the document alone.
import { buildApp } from "../app.js";
import { loadConfig } from "../config.js";
import { connect } from "../connect.js";

const deps = connect({ ...loadConfig(), LXTAG_LOG_LEVEL: "silent" });
try {
  const app = await buildApp(deps);
  await app.ready();
  process.stdout.write(`${JSON.stringify(app.swagger(), null, 2)}\n`);
  await app.close();
} finally {
  await deps.close();
}
