// Running `wrangler dev` locally from Node (the benchmark, the browser tests): free ports and the
// environment the project's own tools need.
import net from "node:net";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** A TCP port free on loopback right now: for wrangler dev's --port and --inspector-port. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment for child processes: the project's own tools first (wrangler, biome, and Node 22
 * from the `node` devDependency), as npm scripts have them, so a script run as `node scripts/x.mjs`
 * behaves like `npm run x`; no metrics, no colours, no prompts.
 */
export const wranglerEnv = {
  ...process.env,
  PATH: [path.join(ROOT, "node_modules", ".bin"), process.env.PATH].join(path.delimiter),
  WRANGLER_SEND_METRICS: "false",
  NO_COLOR: "1",
  CI: "1",
};
