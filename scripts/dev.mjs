// `npm run dev`: the whole service locally, with no Cloudflare or WorkOS account (`--help` for the
// options). Writes the dev keys and dev vars, applies the D1 migrations to the local database, seeds a
// demo user and their membership of the demo organization, starts `wrangler dev`, puts a real photo through the upload pipeline, and prints what to
// try. Ctrl-C, SIGTERM or SIGHUP stops everything it started.
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { DEMO_TEAMMATES, DEMO_USER, DEV_DIR, devToken, writeDevVars } from "./dev-keys.mjs";
import { nonEmpty, parseCommandLine, port } from "./lib/command-line.mjs";
import { spawnGroup, stopGroup, watchParent } from "./lib/process-group.mjs";
import { uploadProfilePicture } from "./lib/upload-profile-picture.mjs";
import { serveWorkOSApi } from "./lib/workos-stand-in.mjs";

const options = parseCommandLine({
  name: "dev",
  invocation: "npm run dev --",
  summary:
    "Runs the API locally on wrangler dev (local D1 and R2, dev keys, a loopback WorkOS stand-in), seeds a\n" +
    "demo user with a photo, and prints a token and a curl to try. Ctrl-C stops it and everything it started.",
  options: {
    port: { type: "string", placeholder: "N", default: 8787, parse: port, description: "the API's port" },
    "inspector-port": {
      type: "string",
      placeholder: "N",
      parse: port,
      description: "wrangler dev's debugger port (default: wrangler's, 9229)",
    },
    "workos-port": {
      type: "string",
      placeholder: "N",
      parse: port,
      description: "the loopback WorkOS stand-in's port (default: --port + 1)",
    },
    "persist-to": {
      type: "string",
      placeholder: "DIR",
      parse: nonEmpty,
      description: "keep the local data, dev key and vars in DIR, not .wrangler/state, .dev/, .dev.vars",
    },
  },
});

const BASE = `http://localhost:${options.port}`;
const WORKOS_PORT = options.workosPort ?? options.port + 1;
const KEYS_DIR = options.persistTo ?? DEV_DIR;
const VARS_FILE = options.persistTo ? path.join(options.persistTo, "dev.vars") : ".dev.vars";
const stateArgs = options.persistTo ? ["--persist-to", options.persistTo] : [];
const log = (message) => console.log(`\x1b[36m[dev]\x1b[0m ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
process.env.WRANGLER_SEND_METRICS ??= "false";

// ---------------------------------------------------------------------------------------------
// Stopping. Every child runs in its own process group, so stopping one stops what it started
// (wrangler's workerd processes). `npm run dev` execs this script (package.json), so npm's
// forwarded SIGINT/SIGTERM reach us; npm does not forward SIGHUP but dies of it, which the parent
// watch sees. A SIGKILL cannot be caught: after one, `wrangler dev` is left running.
// ---------------------------------------------------------------------------------------------
const children = new Set();
let workosStandIn;
let stopping;

function stop(reason, exitCode) {
  stopping ??= (async () => {
    if (reason) log(`${reason}: stopping`);
    workosStandIn?.closeAllConnections();
    workosStandIn?.close();
    await Promise.all([...children].map((child) => stopGroup(child)));
    process.exit(exitCode);
  })();
  return stopping;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const [signal, exitCode] of Object.entries(SIGNAL_EXIT_CODES)) {
  process.on(signal, () => stop(signal, exitCode));
}
watchParent(() => stop("the parent process ended", SIGNAL_EXIT_CODES.SIGHUP));

function start(command, args, stdio) {
  // Once stopping, nothing new starts: it would outlive the stop.
  if (stopping) throw new Error("stopping");
  const child = spawnGroup(command, args, { stdio });
  children.add(child);
  child.exited.finally(() => children.delete(child)).catch(() => {});
  return child;
}

/** A short wrangler command; its output is shown only if it fails. */
async function wrangler(args) {
  const child = start("wrangler", args, ["ignore", "pipe", "pipe"]);
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const code = await child.exited;
  if (code !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(" ")} failed:\n${output}`);
}

async function assertPortFree(port, flag) {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `port ${port} is in use (another \`npm run dev\`?): pick another with ${flag}`
            : `cannot listen on port ${port}: ${error.message}`,
        ),
      ),
    );
    server.listen(port, resolve);
  });
  await new Promise((resolve) => server.close(resolve));
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------
async function main() {
  await assertPortFree(options.port, "--port");
  if (options.inspectorPort) await assertPortFree(options.inspectorPort, "--inspector-port");
  await assertPortFree(WORKOS_PORT, "--workos-port");

  workosStandIn = await serveWorkOSApi(WORKOS_PORT);
  writeDevVars(
    { WORKOS_API_URL: `http://127.0.0.1:${WORKOS_PORT}`, R2_S3_ENDPOINT: `${BASE}/__s3` },
    { file: VARS_FILE, keysDir: KEYS_DIR },
  );
  log(`applying D1 migrations to the local database${options.persistTo ? ` in ${options.persistTo}` : ""}`);
  await wrangler(["d1", "migrations", "apply", "DB", "--local", ...stateArgs]);
  await seedDemoUser();

  const server = start(
    "wrangler",
    [
      ...["dev", "--port", String(options.port), "--show-interactive-dev-session=false"],
      ...(options.inspectorPort ? ["--inspector-port", String(options.inspectorPort)] : []),
      ...(options.persistTo ? [...stateArgs, "--env-file", VARS_FILE] : []),
    ],
    ["ignore", "inherit", "inherit"],
  );
  server.exited.then((code) =>
    stop(`wrangler dev exited (${code})`, typeof code === "number" ? code || 1 : 1),
  );

  await waitForHealth();
  await seedDemoPhoto().catch((error) => log(`could not seed the demo photo: ${error.message}`));
  await signInTeammates().catch((error) => log(`could not sign the demo teammates in: ${error.message}`));
  await printWhatToTry();
}

async function seedDemoUser() {
  const now = Date.now();
  const sql = (value) => (value === null ? "NULL" : `'${String(value).replaceAll("'", "''")}'`);
  const user = [DEMO_USER.id, DEMO_USER.sub, DEMO_USER.email, 1, DEMO_USER.firstName, DEMO_USER.lastName];
  const keys = [DEMO_USER.firstName, DEMO_USER.lastName, DEMO_USER.email].map((value) => value.toLowerCase());
  await wrangler([
    ...["d1", "execute", "DB", "--local", ...stateArgs, "--command"],
    `INSERT INTO users (id, workos_user_id, email, email_verified, first_name, last_name, first_name_key, last_name_key, email_key, workos_profile_picture_url, state, last_login, created_at, updated_at)
     VALUES (${[...user, ...keys, null, "active"].map(sql).join(", ")}, ${now}, ${now}, ${now})
     ON CONFLICT(workos_user_id) DO NOTHING;
     INSERT INTO memberships (workos_user_id, organization_id, role, state, changed_at)
     VALUES (${[DEMO_USER.sub, DEMO_USER.org, DEMO_USER.role, "active"].map(sql).join(", ")}, ${now})
     ON CONFLICT(workos_user_id, organization_id) DO NOTHING`,
  ]);
  log(
    `demo user ${DEMO_USER.email} (${DEMO_USER.id}), ${DEMO_USER.role} of ${DEMO_USER.org}, is in the local database`,
  );
}

async function waitForHealth() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return;
    } catch {}
    await sleep(250);
  }
  throw new Error("wrangler dev did not become healthy in 60 s");
}

/** The demo photo goes through the same HTTP pipeline a browser uses: create, PUT, complete, PATCH. */
async function seedDemoPhoto() {
  const token = await devToken({ dir: KEYS_DIR });
  const me = await fetch(`${BASE}/api/v1/users/me`, { headers: { Authorization: `Bearer ${token}` } });
  if (!me.ok) throw new Error(`GET /api/v1/users/me: ${me.status} ${await me.text()}`);
  if ((await me.json()).hasCustomProfilePicture) return log("demo user already has a custom photo");
  const { upload } = await uploadProfilePicture({
    apiUrl: BASE,
    token,
    bytes: readFileSync(new URL("./assets/demo-photo.jpg", import.meta.url)),
    contentType: "image/jpeg",
    filename: "demo-photo.jpg",
  });
  log(`demo photo uploaded, checked, thumbnailed and set (upload ${upload.id})`);
}

/**
 * The demo user's teammates sign in once, so they are provisioned from the WorkOS stand-in as a first
 * sign-in would be: Ada's WorkOS picture is imported through the queue, Grace has none (initials).
 */
async function signInTeammates() {
  for (const teammate of DEMO_TEAMMATES) {
    const token = await devToken({ dir: KEYS_DIR, sub: teammate.sub, role: "member" });
    const me = await fetch(`${BASE}/api/v1/users/me`, { headers: { Authorization: `Bearer ${token}` } });
    if (!me.ok) throw new Error(`GET /api/v1/users/me as ${teammate.sub}: ${me.status} ${await me.text()}`);
  }
  log(
    `teammates ${DEMO_TEAMMATES.map((t) => `${t.firstName} ${t.lastName}`).join(" and ")} signed in: ` +
      "one WorkOS picture imported through the queue, one initials avatar",
  );
}

async function printWhatToTry() {
  const token = await devToken({ ttl: 12 * 3600, dir: KEYS_DIR });
  const adminToken = await devToken({ ttl: 12 * 3600, dir: KEYS_DIR, role: "admin" });
  const tokenArgs = options.persistTo ? ` -- --persist-to ${options.persistTo}` : "";
  const walkthroughArgs = [
    ...(options.port === 8787 ? [] : [`--api ${BASE}`]),
    ...(options.persistTo ? [`--persist-to ${options.persistTo}`] : []),
  ].join(" ");
  console.log(`
\x1b[32mProfile-picture API is running at ${BASE}\x1b[0m  (docs: ${BASE}/docs)

  Profile-photo page, signed in as ${DEMO_USER.email} (the token stays in the URL fragment):
  ${BASE}/profile#token=${token}

  The same as an admin of the demo organization: its members, with a custom photo, an imported
  WorkOS picture and an initials avatar:
  ${BASE}/profile#token=${adminToken}

  export TOKEN='${token}'

  curl -s ${BASE}/api/v1/users/me -H "Authorization: Bearer $TOKEN"

  curl -s -X PATCH ${BASE}/api/v1/shared/users/${DEMO_USER.id}/profile-picture \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{"uploadId": null}'

A photo from file to profile picture: npm run walkthrough${walkthroughArgs ? ` -- ${walkthroughArgs}` : ""}
More tokens: npm run dev:token${tokenArgs}${tokenArgs ? " " : " -- "}--sub user_someone_else   (--help for more)
Stop: Ctrl-C
`);
}

try {
  await main();
} catch (error) {
  // Once stopping, a step that fails because its process was stopped is no news.
  if (!stopping) {
    console.error(`\x1b[31m[dev]\x1b[0m ${error.message}`);
    await stop(undefined, 1);
  }
}
