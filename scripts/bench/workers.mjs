// The benchmark's throwaway world: one temp dir for all its state, a loopback JWKS stand-in, the D1
// commands, and `wrangler dev` workers in their own process groups. Everything it starts is killed
// on every way out (normal end, error, Ctrl-C), then the dir is removed.
import { execFile } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { experimental_readRawConfig } from "wrangler";
import { devPublicJwks } from "../dev-keys.mjs";
import { freePort, wranglerEnv } from "../lib/local-wrangler.mjs";
import { killGroup, spawnGroup, stopGroup } from "../lib/process-group.mjs";
import { workerdProcesses } from "./cpu.mjs";
import { log, ROOT, STARTUP_TIMEOUT_MS, sleep } from "./options.mjs";

export const run = promisify(execFile);
export const tmp = mkdtempSync(path.join(os.tmpdir(), "profile-api-bench-"));
/** Every worker started, for the log dump of a failed run. */
export const workers = [];
let jwksServer;

process.on("exit", () => {
  for (const worker of workers) killGroup(worker.child);
  jwksServer?.close();
  rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(130);
  });
}

// Identity: a throwaway dev key pair. Its JWKS is served from loopback (one path per worker) and
// the workers get WORKOS_JWKS_URL with WORKOS_JWKS empty, so they really fetch it and we count.
export const keyDir = path.join(tmp, "keys");
const jwksBody = JSON.stringify(devPublicJwks(keyDir));
/** JWKS fetches so far, by worker label. */
export const jwksHits = new Map();

/** The keys of the audit events the stand-in accepted (a repeat of a key counts once, as WorkOS does). */
export const auditEventKeys = new Set();

/**
 * The loopback stand-in for WorkOS: the JWKS, and the audit log's `POST /audit_logs/events`, which
 * accepts every event (201) and remembers its key. Every worker's WORKOS_API_URL points here, so no
 * delivery ever waits on the network.
 */
export async function startJwksServer() {
  jwksServer = http.createServer((req, res) => {
    if (req.method === "POST" && req.url === "/audit_logs/events") {
      const key = req.headers["idempotency-key"];
      req.resume();
      req.on("end", () => {
        if (typeof key === "string") auditEventKeys.add(key);
        res.writeHead(201, { "content-type": "application/json" }).end('{"success":true}');
      });
      return;
    }
    const label = /^\/jwks\/(\w+)$/.exec(req.url ?? "")?.[1];
    if (!label) return res.writeHead(404).end();
    jwksHits.set(label, (jwksHits.get(label) ?? 0) + 1);
    res.writeHead(200, { "content-type": "application/json" }).end(jwksBody);
  });
  await new Promise((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  return jwksServer.address().port;
}

export async function wrangler(args) {
  const { stdout } = await run("wrangler", args, { cwd: ROOT, env: wranglerEnv, maxBuffer: 64 << 20 });
  return stdout;
}

/** A `wrangler d1` command on the local database persisted in `dir`. */
export const d1 = (dir, ...args) => wrangler(["d1", ...args, "DB", "--local", "--persist-to", dir]);
export const d1Json = async (dir, command) =>
  JSON.parse(await d1(dir, "execute", "--json", "--command", command));

export async function seed(dir, name, sql) {
  const file = path.join(tmp, `${name}.sql`);
  writeFileSync(file, sql);
  await d1(dir, "execute", "--file", file);
}

let producerOnly;

/**
 * wrangler.toml's local configuration without its queue consumers (`--config` it): the workers the
 * load phases measure send their jobs (an audit event for each PATCH that changes a photo) and
 * consume none, so no delivery runs in the process whose CPU is each request's.
 */
export function producerOnlyConfig() {
  if (producerOnly) return producerOnly;
  const { rawConfig } = experimental_readRawConfig({ config: path.join(ROOT, "wrangler.toml") });
  const { env: _environments, build: _build, queues, ...local } = rawConfig;
  producerOnly = path.join(tmp, "producer-only-wrangler.json");
  writeFileSync(
    producerOnly,
    JSON.stringify({
      ...local,
      main: path.resolve(ROOT, local.main),
      assets: { ...local.assets, directory: path.resolve(ROOT, local.assets.directory) },
      d1_databases: local.d1_databases.map((database) => ({
        ...database,
        migrations_dir: path.resolve(ROOT, database.migrations_dir),
      })),
      queues: { producers: queues.producers },
    }),
  );
  return producerOnly;
}

/**
 * A stand-in worker's wrangler config: its entry (`scripts/bench/<name>-worker.ts`) with the service's
 * compatibility date and flags, and those of the service's bindings it names (`d1_databases`,
 * `r2_buckets`, `images`, `queues`), taken from wrangler.toml as they are; of `queues`, the producers
 * only, since a stand-in consumes nothing.
 */
export function standInConfig(name, bindings = []) {
  const { rawConfig } = experimental_readRawConfig({ config: path.join(ROOT, "wrangler.toml") });
  const file = path.join(tmp, `${name}-wrangler.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name: `${name}-bench`,
      main: path.join(import.meta.dirname, `${name}-worker.ts`),
      compatibility_date: rawConfig.compatibility_date,
      compatibility_flags: rawConfig.compatibility_flags,
      ...Object.fromEntries(
        bindings.map((binding) => [
          binding,
          binding === "queues" ? { producers: rawConfig.queues.producers } : rawConfig[binding],
        ]),
      ),
    }),
  );
  return file;
}

/** `wrangler dev` on `persistDir`, in its own process group; resolves once `/healthz` answers 200. */
export async function startWorker(label, persistDir, jwksPort, extraArgs = []) {
  const port = await freePort();
  const envFile = path.join(tmp, `${label}.env`);
  // With --env-file, wrangler reads no .dev.vars: nothing here depends on a developer's local setup.
  writeFileSync(
    envFile,
    [
      "WORKOS_JWKS=",
      `WORKOS_JWKS_URL=http://127.0.0.1:${jwksPort}/jwks/${label}`,
      `WORKOS_API_URL=http://127.0.0.1:${jwksPort}`,
      "WORKOS_API_KEY=sk_bench_local_only",
      "WORKOS_WEBHOOK_SECRET=whsec_bench_local_only",
      "R2_ACCESS_KEY_ID=bench-access-key-id",
      "R2_SECRET_ACCESS_KEY=bench-secret-access-key-local-only",
      `R2_S3_ENDPOINT=http://127.0.0.1:${port}/__s3`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const logFile = path.join(tmp, `${label}.log`);
  const fd = openSync(logFile, "a");
  const args = [
    ...["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(await freePort())],
    ...["--persist-to", persistDir, "--env-file", envFile, "--show-interactive-dev-session=false"],
    ...extraArgs,
  ];
  const child = spawnGroup("wrangler", args, { cwd: ROOT, env: wranglerEnv, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const worker = { label, port, child, logFile };
  workers.push(worker);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
    } catch {}
    await sleep(250);
  }
  const processes = workerdProcesses(worker);
  if (!processes.some((p) => p.role === "worker")) {
    throw new Error(`wrangler dev (${label}) did not become healthy:\n${tail(logFile)}`);
  }
  worker.exe = readlinkSync(`/proc/${processes[0].pid}/exe`);
  log(
    `${label}: wrangler dev on 127.0.0.1:${port}, workerd ${processes.map((p) => `${p.pid} (${p.role})`).join(", ")}`,
  );
  return worker;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once no process of the worker's group is left. */
export const stopWorker = (worker) => stopGroup(worker.child);

/** Whether the worker's wrangler has ended. */
export const exited = (worker) => worker.child.exitCode !== null || worker.child.signalCode !== null;

export const tail = (file, lines = 40) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "(no log)";
