import { execFile } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { devPublicJwks } from "../../scripts/dev-keys.mjs";
import { freePort, wranglerEnv } from "../../scripts/lib/local-wrangler.mjs";
import { spawnGroup, stopGroup } from "../../scripts/lib/process-group.mjs";
import { startWorkOSStub } from "./workos-stub";

const ROOT = path.resolve(import.meta.dirname, "../..");
const STARTUP_TIMEOUT_MS = 90_000;
const WORKOS_API_KEY = "sk_browser_tests_only";
const WORKOS_WEBHOOK_SECRET = "whsec_browser_tests_only";
const run = promisify(execFile);

/** What the tests need to know about the running stack (plain data: it crosses into test workers). */
export interface StackInfo {
  /** Where the page is opened: an origin in CORS_ORIGINS. */
  pageOrigin: string;
  /** Where the API is: another origin, so every call is cross-origin. */
  apiOrigin: string;
  /** Where the bucket (the S3 emulation) is: a third origin, so the page's policy must name it. */
  storageOrigin: string;
  workosOrigin: string;
  /** The throwaway dev signing key's folder: `devToken({ dir })` mints tokens the worker trusts. */
  keyDir: string;
  /** What the worker checks WorkOS's webhook signatures with, so a test can send WorkOS events. */
  webhookSecret: string;
  /** wrangler dev's output, the worker's request log lines included. */
  logFile: string;
}

/**
 * `wrangler dev` on free ports with throwaway state (its own D1, R2 and keys in a temp dir, the
 * migrations applied), configured as a deployment whose page, API and bucket live on three origins:
 * the page on http://localhost:P, the API on http://127.0.0.1:P, the bucket's presigned URLs on
 * http://bucket.localhost:P (Chromium resolves every *.localhost to loopback). Everything it starts
 * is stopped, and the temp dir removed, by the returned `stop`.
 */
export async function startStack(): Promise<StackInfo & { stop: () => Promise<void> }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "profile-api-browser-"));
  const keyDir = path.join(tmp, "keys");
  const stateDir = path.join(tmp, "state");
  const logFile = path.join(tmp, "wrangler.log");
  const workos = await startWorkOSStub(WORKOS_API_KEY);
  const port = await freePort();
  const pageOrigin = `http://localhost:${port}`;
  const apiOrigin = `http://127.0.0.1:${port}`;
  const storageOrigin = `http://bucket.localhost:${port}`;
  const settings = {
    WORKOS_JWKS: JSON.stringify(devPublicJwks(keyDir)),
    WORKOS_API_URL: workos.origin,
    WORKOS_API_KEY,
    WORKOS_WEBHOOK_SECRET,
    R2_ACCESS_KEY_ID: "browser-tests-access-key-id",
    R2_SECRET_ACCESS_KEY: "browser-tests-secret-access-key",
    R2_S3_ENDPOINT: `${storageOrigin}/__s3`,
    CORS_ORIGINS: pageOrigin,
    PAGE_API_ORIGIN: apiOrigin,
  };
  // With --env-file, wrangler reads no .dev.vars: nothing depends on a developer's local setup.
  const envFile = path.join(tmp, "browser-tests.env");
  writeFileSync(
    envFile,
    Object.entries(settings)
      .map(([name, value]) => `${name}='${value}'\n`)
      .join(""),
    { mode: 0o600 },
  );

  let child: ReturnType<typeof spawnGroup> | undefined;
  const stop = async () => {
    // The whole process group: wrangler and every workerd under it.
    if (child) await stopGroup(child);
    await new Promise((resolve) => workos.server.close(resolve));
    rmSync(tmp, { recursive: true, force: true });
  };

  try {
    await run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
      cwd: ROOT,
      env: wranglerEnv,
    });
    const fd = openSync(logFile, "a");
    child = spawnGroup(
      "wrangler",
      [
        ...["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(await freePort())],
        ...["--persist-to", stateDir, "--env-file", envFile, "--show-interactive-dev-session=false"],
      ],
      { cwd: ROOT, env: wranglerEnv, stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${tail(logFile)}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev did not become healthy:\n${tail(logFile)}`);
      try {
        if ((await fetch(`${apiOrigin}/healthz`)).ok) break;
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pageOrigin,
    apiOrigin,
    storageOrigin,
    workosOrigin: workos.origin,
    keyDir,
    webhookSecret: WORKOS_WEBHOOK_SECRET,
    logFile,
    stop,
  };
}

const tail = (file: string, lines = 40) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
};
