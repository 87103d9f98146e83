import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

export const ROOT = path.join(import.meta.dirname, "..", "..", "..");
export const COMMITTED_TOML = path.join(ROOT, "wrangler.toml");

/** Values a real production setup would have in place of the committed placeholders. */
export const FILLED_IN = {
  WORKOS_CLIENT_ID: "client_01HZY3M4K5N6P7Q8R9S0T1V2W3",
  R2_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  database_id: "5f1c2b8e-3d4a-4e6f-9a0b-1c2d3e4f5a6b",
};

const dir = mkdtempSync(path.join(tmpdir(), "wrangler-toml-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The committed wrangler.toml with `[env.production]` changed: each key of `vars` set in
 * `[env.production.vars]` (added when absent, removed when `null`), and its D1 `database_id`.
 * Written to a temporary file, whose path is returned.
 */
export function productionToml(vars: Record<string, string | null>, databaseId?: string): string {
  const committed = readFileSync(COMMITTED_TOML, "utf8");
  const header = "[env.production.vars]\n";
  const at = committed.indexOf(header) + header.length;
  let production = committed.slice(at);
  for (const [name, value] of Object.entries(vars)) {
    const line = new RegExp(`^${name} = .*\\n`, "m");
    const replacement = value === null ? "" : `${name} = ${JSON.stringify(value)}\n`;
    production = line.test(production) ? production.replace(line, replacement) : replacement + production;
  }
  if (databaseId) production = production.replace(/^database_id = .*$/m, `database_id = "${databaseId}"`);
  const file = path.join(dir, `${crypto.randomUUID()}.toml`);
  writeFileSync(file, committed.slice(0, at) + production);
  return file;
}

/** The committed wrangler.toml with the placeholders of `[env.production]` filled in. */
export function filledInToml(vars: Record<string, string | null> = {}): string {
  const { database_id, ...filled } = FILLED_IN;
  return productionToml({ ...filled, ...vars }, database_id);
}

/** Run a script of scripts/ with this Node, as `npm run` would, and capture what it says. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(process.execPath, [path.join(ROOT, "scripts", script), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...env, WRANGLER_SEND_METRICS: "false" },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `runScript` without blocking this process: for a script that calls a server the test itself runs
 * (spawnSync would stop that server from answering until the script gave up).
 */
export function runScriptAsync(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [path.join(ROOT, "scripts", script), ...args], {
    cwd: ROOT,
    env: { ...env, WRANGLER_SEND_METRICS: "false" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}
