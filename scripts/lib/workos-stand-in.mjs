/**
 * A loopback stand-in for the WorkOS user API, so just-in-time provisioning works locally: any
 * `npm run dev:token -- --sub user_…` is a WorkOS user on first use, as a real sign-in would be.
 */
import { createServer } from "node:http";
import { DEV_WORKOS_API_KEY } from "../dev-keys.mjs";

/** Listens on 127.0.0.1:`port`; resolves with the server once it does. */
export function serveWorkOSUserApi(port) {
  const server = createServer((request, response) => {
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
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
