// `npm run dev`: the whole service locally, with no Cloudflare or WorkOS account. Writes the dev
// keys and .dev.vars, applies the D1 migrations to the local database, seeds a demo user and their
// membership of the demo organization, starts
// `wrangler dev`, puts a real photo through the upload pipeline, and prints a curl to try.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { DEMO_USER, DEV_WORKOS_API_KEY, devToken, writeDevVars } from "./dev-keys.mjs";
import { uploadProfilePicture } from "./lib/upload-profile-picture.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const BASE = `http://localhost:${PORT}`;
process.env.WRANGLER_SEND_METRICS ??= "false";

const wrangler = (args) => execFileSync("wrangler", args, { stdio: ["ignore", "ignore", "inherit"] });
const log = (message) => console.log(`\x1b[36m[dev]\x1b[0m ${message}`);

const workosApi = await serveWorkOSUserApi(PORT + 1);
writeDevVars({ WORKOS_API_URL: workosApi, R2_S3_ENDPOINT: `${BASE}/__s3` });
log("applying D1 migrations to the local database");
wrangler(["d1", "migrations", "apply", "DB", "--local"]);

const now = Date.now();
const sql = (value) => (value === null ? "NULL" : `'${String(value).replaceAll("'", "''")}'`);
wrangler([
  "d1",
  "execute",
  "DB",
  "--local",
  "--command",
  `INSERT INTO users (id, workos_user_id, email, email_verified, first_name, last_name, first_name_key, last_name_key, email_key, workos_profile_picture_url, state, last_login, created_at, updated_at)
   VALUES (${[DEMO_USER.id, DEMO_USER.sub, DEMO_USER.email, 1, DEMO_USER.firstName, DEMO_USER.lastName, DEMO_USER.firstName.toLowerCase(), DEMO_USER.lastName.toLowerCase(), DEMO_USER.email.toLowerCase(), null, "active"].map(sql).join(", ")}, ${now}, ${now}, ${now})
   ON CONFLICT(workos_user_id) DO NOTHING;
   INSERT INTO memberships (workos_user_id, organization_id, role, state, changed_at)
   VALUES (${[DEMO_USER.sub, DEMO_USER.org, DEMO_USER.role, "active"].map(sql).join(", ")}, ${now})
   ON CONFLICT(workos_user_id, organization_id) DO NOTHING`,
]);
log(
  `demo user ${DEMO_USER.email} (${DEMO_USER.id}), ${DEMO_USER.role} of ${DEMO_USER.org}, is in the local database`,
);

const server = spawn("wrangler", ["dev", "--port", String(PORT), "--show-interactive-dev-session=false"], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code) => process.exit(code ?? 0));

await waitForHealth();
await seedDemoPhoto().catch((error) => log(`could not seed the demo photo: ${error.message}`));
await printWalkthrough();

async function waitForHealth() {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("wrangler dev did not become healthy in 60 s");
}

/** The demo photo goes through the same HTTP pipeline a browser uses: create, PUT, complete, PATCH. */
async function seedDemoPhoto() {
  const token = await devToken();
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

async function printWalkthrough() {
  const token = await devToken({ ttl: 12 * 3600 });
  console.log(`
\x1b[32mProfile-picture API is running at ${BASE}\x1b[0m  (docs: ${BASE}/docs)

  export TOKEN='${token}'

  curl -s ${BASE}/api/v1/users/me -H "Authorization: Bearer $TOKEN"

  curl -s -X PATCH ${BASE}/api/v1/shared/users/${DEMO_USER.id}/profile-picture \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{"uploadId": null}'

More tokens: npm run dev:token -- --sub ${DEMO_USER.sub}   (the README walks through an upload)
`);
}

/**
 * A loopback stand-in for the WorkOS user API, so just-in-time provisioning works locally: any
 * `npm run dev:token -- --sub user_…` is a WorkOS user on first use, as a real sign-in would be.
 */
function serveWorkOSUserApi(port) {
  const stub = createServer((request, response) => {
    const match = /^\/user_management\/users\/([^/]+)$/.exec(request.url ?? "");
    if (request.method !== "GET" || !match) return response.writeHead(404).end();
    if (request.headers.authorization !== `Bearer ${DEV_WORKOS_API_KEY}`)
      return response.writeHead(401).end();
    const id = decodeURIComponent(match[1]);
    const now = new Date().toISOString();
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        object: "user",
        id,
        email: `${id.toLowerCase()}@example.com`,
        email_verified: true,
        first_name: "Dev",
        last_name: id,
        profile_picture_url: null,
        last_sign_in_at: now,
        created_at: now,
        updated_at: now,
      }),
    );
  });
  return new Promise((resolve, reject) => {
    stub.once("error", reject);
    stub.listen(port, "127.0.0.1", () => resolve(`http://127.0.0.1:${port}`));
  });
}
