// Re-predicts a batch with the active model from its posts' RoI features: `npm run relabel -- <batchId>`. An
// operator's command (any batch, no API key); the API's POST /v1/batches/:id/relabel does the same for a key's own.
import { z } from "zod";
import { loadConfig } from "../config.js";
import { connect } from "../connect.js";
import { ApiError } from "../errors.js";
import { RelabelService } from "../services/relabel.js";

const batchId = z.uuid().safeParse(process.argv[2]);
if (!batchId.success || process.argv.length > 3) {
  process.stderr.write("usage: npm run relabel -- <batchId>\n");
  process.exit(2);
}
const deps = connect(loadConfig());
try {
  const batch = await deps.repos.batches.find(batchId.data);
  if (!batch) {
    process.stderr.write(`no batch ${batchId.data}\n`);
    process.exitCode = 1;
  } else {
    const accepted = await new RelabelService({
      repos: deps.repos,
      predict: deps.queues.predict,
      log: deps.log,
    }).relabel(batch);
    process.stdout.write(`${JSON.stringify(accepted)}\n`);
  }
} catch (err) {
  if (!(err instanceof ApiError)) throw err;
  process.stderr.write(`${err.code}: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  await deps.close();
}
