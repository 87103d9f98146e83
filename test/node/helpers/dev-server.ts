import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

/** The environment of a command a user runs: no Vitest variables, no telemetry. */
export function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST")));
  return { ...env, NODE_ENV: undefined, WRANGLER_SEND_METRICS: "false" };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts connections on `port`, over IPv4 or IPv6 loopback. */
export async function listening(port: number): Promise<boolean> {
  const tryHost = (host: string) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host });
      socket.once("connect", () => resolve(true));
      socket.once("error", () => resolve(false));
    }).finally(() => {});
  const results = await Promise.all(["127.0.0.1", "::1"].map(tryHost));
  return results.some(Boolean);
}

/** Every process below `pid`, by walking /proc (a detached child leaves the group, not the tree). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {} // ended while we looked
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift();
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie has ended; it only waits for its parent to notice.
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

export interface DevServer {
  npm: ChildProcess;
  api: string;
  ports: number[];
  persistTo: string;
  output: () => string;
  exited: Promise<number | string | null>;
  /** SIGKILLs whatever of it is still running and removes its state. */
  dispose: () => void;
}

const started = new Set<DevServer>();

/** For afterEach: whatever a test started is gone, also after a failure or a time-out mid-start. */
export function disposeDevServers() {
  for (const server of started) server.dispose();
  started.clear();
}

/**
 * `npm run dev` as a user starts it, on free ports, with its state in a temp dir (never the
 * developer's local database or .dev.vars), in its own process group as a terminal's foreground
 * job is; resolves once it prints that it is running.
 */
export async function startDev(): Promise<DevServer> {
  const [port, inspectorPort, workosPort] = [await freePort(), await freePort(), await freePort()];
  const persistTo = mkdtempSync(path.join(tmpdir(), "dev-test-"));
  const npm = spawn(
    "npm",
    [
      ...["run", "dev", "--", "--port", String(port), "--inspector-port", String(inspectorPort)],
      ...["--workos-port", String(workosPort), "--persist-to", persistTo],
    ],
    { cwd: ROOT, env: userEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  npm.stdout?.on("data", (chunk) => (output += chunk));
  npm.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    npm.once("exit", (code, signal) => resolve(code ?? signal)),
  );
  const seen = new Set<number>();
  const server: DevServer = {
    npm,
    api: `http://localhost:${port}`,
    ports: [port, inspectorPort, workosPort],
    persistTo,
    output: () => output,
    exited,
    dispose: () => {
      for (const pid of [npm.pid ?? 0, ...seen, ...descendants(npm.pid ?? 0)]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      rmSync(persistTo, { recursive: true, force: true });
    },
  };
  started.add(server);
  const ready = await waitFor(() => {
    for (const pid of descendants(npm.pid ?? 0)) seen.add(pid);
    return output.includes("Profile-picture API is running") || npm.exitCode !== null;
  }, 120_000);
  if (!ready || npm.exitCode !== null) {
    throw new Error(`npm run dev did not start:\n${output}`);
  }
  return server;
}
