import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";

/** sharp, which miniflare installs for the local Images binding: it draws the stand-in's pictures. */
const sharp = createRequire(import.meta.url)("sharp") as (input: Buffer) => {
  png(): { toBuffer(): Promise<Buffer> };
};

/**
 * The picture WorkOS has for everyone here, a PNG as an identity provider serves one (the service
 * imports it: SVG is no photo), unlike any uploaded test photo or initials image, so a screenshot
 * tells them apart: a stripe of the person's own colour on purple.
 */
const workosPicture = (seed: string) => {
  const hue = [...seed].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 360;
  return sharp(
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160">` +
        `<rect width="160" height="160" fill="#6b4fbb"/>` +
        `<rect y="56" width="160" height="48" fill="hsl(${hue},70%,60%)"/></svg>`,
    ),
  )
    .png()
    .toBuffer();
};

export interface StubUser {
  id: string;
  firstName: string;
  lastName: string;
  /** Their WorkOS picture: served (the default), none at all, or a URL that answers 404. */
  picture?: "served" | "none" | "broken";
}

/**
 * The WorkOS user object for `user`, as the user API answers it and `user.*` events carry it; its
 * picture is served by the stand-in at `origin`.
 */
export function workosUser(user: StubUser, origin: string, updatedAt = new Date()) {
  return {
    object: "user",
    id: user.id,
    email: `${user.firstName}.${user.lastName}@example.com`.toLowerCase(),
    email_verified: true,
    first_name: user.firstName,
    last_name: user.lastName,
    profile_picture_url:
      user.picture === "none" ? null : `${origin}/pictures/${encodeURIComponent(user.id)}.png`,
    last_sign_in_at: updatedAt.toISOString(),
    created_at: updatedAt.toISOString(),
    updated_at: updatedAt.toISOString(),
  };
}

/**
 * A loopback stand-in for WorkOS, so the worker under test provisions users just in time as it
 * would after a real sign-in: `GET /user_management/users/{id}` answers the users the tests
 * registered (`POST /test/users`), each with a profile picture served here too, so the worker
 * imports the WorkOS picture with no internet. `/blank` is an empty page on an origin the API does not allow.
 */
export async function startWorkOSStub(apiKey: string): Promise<{ origin: string; server: Server }> {
  const users = new Map<string, StubUser>();
  let origin = "";
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://stub");
    const user = /^\/user_management\/users\/([^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && user) {
      if (request.headers.authorization !== `Bearer ${apiKey}`) return response.writeHead(401).end();
      const found = users.get(decodeURIComponent(user[1] ?? ""));
      if (!found) return response.writeHead(404).end();
      return response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(workosUser(found, origin)));
    }
    const picture = /^\/pictures\/([^/]+)\.png$/.exec(url.pathname);
    if (request.method === "GET" && picture) {
      const found = users.get(decodeURIComponent(picture[1] ?? ""));
      if (!found || found.picture === "broken") return response.writeHead(404).end();
      void workosPicture(found.id).then((png) =>
        response.writeHead(200, { "content-type": "image/png" }).end(png),
      );
      return;
    }
    if (request.method === "GET" && url.pathname === "/blank") {
      return response
        .writeHead(200, { "content-type": "text/html" })
        .end("<!doctype html><title>blank</title>");
    }
    if (request.method === "POST" && url.pathname === "/test/users") {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        const registered = JSON.parse(body) as StubUser;
        users.set(registered.id, registered);
        response.writeHead(204).end();
      });
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the WorkOS stub has no port");
  origin = `http://127.0.0.1:${address.port}`;
  return { origin, server };
}
