// Runs s3rver, an S3-compatible server on the local filesystem, for tests and the demo.
// Usage: node scripts/s3-server.js <port> <directory>
import S3rver from "s3rver";

const port = Number(process.argv[2] ?? 4569);
const directory = process.argv[3] ?? ".lxtag/s3";
const server = new S3rver({ port, address: "127.0.0.1", directory, silent: true, resetOnClose: false });
await server.run();
console.log(`s3rver listening on 127.0.0.1:${port}, data in ${directory}`);
