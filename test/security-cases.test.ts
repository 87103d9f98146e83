/**
 * The security checklist (SECURITY-CASES.md) is proven where each behaviour lives: every test that
 * proves a case names it in its title (`case 12: …`), and test/node/security-cases.test.ts checks
 * that every case of the list is named somewhere. What stays here is what no one file owns: case
 * 36 follows a whole upload, a PATCH, a forged token, a bad webhook and a 500 through the worker
 * and reads every body and log line they produced.
 *
 * What these tests cannot reach, and why:
 * - Case 8's "per cooldown" is per isolate: production runs many isolates, each with its own cache
 *   and cooldown; one test isolate proves the rule for one (test/auth.test.ts).
 * - Case 36's "nor in any log" covers what the worker logs (every `console` level). Logs that the
 *   platform writes itself (Cloudflare's request logs, which hold full URLs with presigned queries,
 *   or a browser's history) are outside the worker.
 * - Case 44: the Rate Limiting binding counts per Cloudflare location and is eventually consistent;
 *   the local binding is exact. The tests prove the service's side (429, Retry-After, nothing
 *   applied), not the global accuracy of the limiter (test/rate-limits.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { createUser } from "./helpers/db";
import { attackerKeys, signToken } from "./helpers/tokens";
import { completeUpload, emulated, putObject, startUpload } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";
import {
  deliverWebhook,
  newWorkOSUserId,
  signWebhook,
  WEBHOOK_SECRET,
  WORKOS_API_KEY,
  workosEvent,
  workosUserObject,
} from "./helpers/workos-users";

beforeEach(() => {
  mockWorkOS();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const R2_SECRET = "test-secret-access-key";

/** Silence and collect everything the worker logs, every level. */
function captureLogs(): string[] {
  const lines: string[] = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args) => void lines.push(args.map(String).join(" ")));
  }
  return lines;
}

describe("secrets across the service", () => {
  it("case 36: no secret, token or presigned signature in any response body but the URL itself, nor in any log", async () => {
    const logs = captureLogs();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const forged = await signToken({ sub: user.workosUserId }, { key: attackerKeys.privateKey });
    const bodies: string[] = [];
    const keep = async (response: Response) => {
      // Bytes decoded as Latin-1: a secret in a binary body (a thumbnail) shows as itself, and
      // workerd does not warn about reading an image as text.
      bodies.push(new TextDecoder("latin1").decode(await response.clone().arrayBuffer()));
      return response;
    };

    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    bodies.push(JSON.stringify(started));
    expect((await keep(await putObject(started.uploadUrl, images.png, started.uploadHeaders))).status).toBe(
      200,
    );
    const completed = await json<{ thumbUrl: string }>(
      await keep(await completeUpload(token, started.upload.id)),
    );
    expect((await keep(await call(completed.thumbUrl, { env: emulated }))).status).toBe(200);
    const patched = await keep(
      await call("/api/v1/users/me/profile-picture", {
        method: "PATCH",
        token,
        json: { uploadId: started.upload.id },
        env: emulated,
      }),
    );
    const profile = await json<{ profilePictureUrl: string }>(patched);
    expect((await keep(await call("/api/v1/users/me", { token: forged }))).status).toBe(401);
    const event = JSON.stringify(workosEvent("user.created", workosUserObject(newWorkOSUserId())));
    const badSignature = await signWebhook(event, { secret: "whsec_not_ours" });
    expect((await keep(await deliverWebhook(event, { signature: badSignature }))).status).toBe(401);
    expect((await keep(await call("/api/v1/users/me", { token, env: { DB: {} } }))).status).toBe(500);

    const signatures = [started.uploadUrl, completed.thumbUrl, profile.profilePictureUrl].map(
      (url) => new URL(url).searchParams.get("X-Amz-Signature") as string,
    );
    expect(signatures.every((s) => /^[0-9a-f]{64}$/.test(s))).toBe(true);
    expect(logs.length).toBeGreaterThan(8);
    const logText = logs.join("\n");
    for (const secret of [token, forged, R2_SECRET, WORKOS_API_KEY, WEBHOOK_SECRET, ...signatures]) {
      expect(logText).not.toContain(secret);
    }
    const bodyText = bodies.join("\n");
    for (const secret of [token, forged, R2_SECRET, WORKOS_API_KEY, WEBHOOK_SECRET]) {
      expect(bodyText).not.toContain(secret);
    }
    for (const signature of signatures) {
      expect(bodyText.split(signature).length).toBe(bodyText.split(`X-Amz-Signature=${signature}`).length);
    }
  });
});
