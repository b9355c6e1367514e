// Runs s3rver, an S3-compatible server on the local filesystem, for tests and the demo.
// Usage: node scripts/s3-server.js <port> <directory>
import { rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import S3rver from "s3rver";

const port = Number(process.argv[2] ?? 4569);
const directory = process.argv[3] ?? ".lxtag/s3";
const server = new S3rver({ port, address: "127.0.0.1", directory, silent: true, resetOnClose: false });

// s3rver lists an object's folder (synchronously) after each delete, to remove the folder once empty: O(objects in
// it) a delete, so emptying a scratch bucket of 12,000 RoI objects took 240 s. rmdir refuses a folder that is not
// empty, so trying it says the same at once.
const store = server.store;
store.deleteObject = async (bucket, key) => {
  await Promise.all(
    ["object", "object.md5", "metadata.json"].map((kind) =>
      unlink(store.getResourcePath(bucket, key, kind)).catch((err) => {
        if (err.code !== "ENOENT") throw err;
      }),
    ),
  );
  const parts = key.split("/").slice(0, -1); // the last part is in the file names
  for (; parts.length; parts.pop()) {
    try {
      await rmdir(join(store.getBucketPath(bucket), ...parts));
    } catch (err) {
      if (err.code === "ENOTEMPTY" || err.code === "EEXIST" || err.code === "ENOENT") break;
      throw err;
    }
  }
};

await server.run();
console.log(`s3rver listening on 127.0.0.1:${port}, data in ${directory}`);
