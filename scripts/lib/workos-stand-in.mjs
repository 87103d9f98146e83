/**
 * A loopback stand-in for the WorkOS API, so `npm run dev` needs no WorkOS account.
 *
 * Users, for just-in-time provisioning: any `npm run dev:token -- --sub user_…` is a WorkOS user on
 * first use, as a real sign-in would be. Like a WorkOS user who signed in with Google, each has a
 * profile picture, served here on loopback (the worker imports it: the development configuration
 * fetches `http:` on loopback hosts); a `sub` that ends in `_no_picture` has none, so its avatar is
 * initials. The demo teammates have their own names.
 *
 * Audit logs: the events the worker records, each printed as one line, and the actions' schemas
 * (workos-audit-logs-stand-in.mjs).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { DEMO_TEAMMATES, DEV_WORKOS_API_KEY } from "../dev-keys.mjs";
import { auditLogsStandIn } from "./workos-audit-logs-stand-in.mjs";

const PICTURE = readFileSync(new URL("../assets/identity-provider-picture.jpg", import.meta.url));

/** Each audit event's line, among `wrangler dev`'s own. */
const printLine = (line) => console.log(`\x1b[35m[workos]\x1b[0m ${line}`);

/**
 * Listens on 127.0.0.1:`port`; resolves with the server once it does.
 * @param {number} port
 * @param {{ log?: (line: string) => void }} [options] where the audit events' lines go (default: stdout)
 */
export function serveWorkOSApi(port, { log = printLine } = {}) {
  const origin = `http://127.0.0.1:${port}`;
  const auditLogs = auditLogsStandIn(log);
  const server = createServer((request, response) => {
    if (request.method === "GET" && /^\/pictures\/[^/]+\.jpg$/.test(request.url ?? "")) {
      return response.writeHead(200, { "content-type": "image/jpeg" }).end(PICTURE);
    }
    if (request.url?.startsWith("/audit_logs/")) return auditLogs(request, response);
    const match = /^\/user_management\/users\/([^/]+)$/.exec(request.url ?? "");
    if (request.method !== "GET" || !match) return response.writeHead(404).end();
    if (request.headers.authorization !== `Bearer ${DEV_WORKOS_API_KEY}`)
      return response.writeHead(401).end();
    let id;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      // A malformed escape names no user; thrown here, it would end the dev server.
      return response.writeHead(404).end();
    }
    const teammate = DEMO_TEAMMATES.find((known) => known.sub === id);
    const picture = teammate ? teammate.picture : !id.endsWith("_no_picture");
    const now = new Date().toISOString();
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        object: "user",
        id,
        email: `${(teammate?.firstName ?? id).toLowerCase()}@example.com`,
        email_verified: true,
        first_name: teammate?.firstName ?? "Dev",
        last_name: teammate?.lastName ?? id,
        profile_picture_url: picture ? `${origin}/pictures/${encodeURIComponent(id)}.jpg` : null,
        last_sign_in_at: now,
        created_at: now,
        updated_at: now,
      }),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
