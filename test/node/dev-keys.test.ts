import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { DEV_ISSUER, devPublicJwks, devToken } from "../../scripts/dev-keys.mjs";

const dir = mkdtempSync(path.join(tmpdir(), "dev-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scripts/dev-keys.mjs", () => {
  it("mints tokens that the published dev JWKS verifies, with the claims asked for", async () => {
    const token = await devToken({ sub: "user_test", org: "org_test", role: "admin", ttl: 60, dir });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(devPublicJwks(dir)), {
      algorithms: ["RS256"],
      issuer: DEV_ISSUER,
    });
    expect(protectedHeader.kid).toBe(devPublicJwks(dir).keys[0]?.kid);
    expect(payload).toMatchObject({ sub: "user_test", org_id: "org_test", role: "admin" });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(60);
  });

  it("publishes only the public half of the key", () => {
    const [key] = devPublicJwks(dir).keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
  });
});
