import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { devToken } from "../../scripts/dev-keys.mjs";
import { uploadProfilePicture } from "../../scripts/lib/upload-profile-picture.mjs";
import { disposeDevServers, ROOT, startDev } from "./helpers/dev-server";

afterEach(() => {
  vi.restoreAllMocks();
  disposeDevServers();
});

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

describe("scripts/lib/upload-profile-picture.mjs", { timeout: 180_000 }, () => {
  it("sends each API call the newest bookmark the API answered, and none to storage", async () => {
    const server = await startDev();
    const token = await devToken({ dir: server.persistTo });
    // Every request it makes, through the real fetch to the real `npm run dev`: what went, what came back.
    const calls: { request: string; sent: string | null; answered: string | null }[] = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const response = await realFetch(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      calls.push({
        request: `${init?.method ?? "GET"} ${url.pathname.replace(/[0-9a-f-]{36}/, "{id}")}`,
        sent: new Headers(init?.headers).get("x-d1-bookmark"),
        answered: response.headers.get("x-d1-bookmark"),
      });
      return response;
    });

    const result = await uploadProfilePicture({
      apiUrl: server.api,
      token,
      bytes: readFileSync(path.join(ROOT, "scripts/assets/demo-photo.jpg")),
      contentType: "image/jpeg",
    });

    expect(calls.map((call) => call.request)).toEqual([
      "POST /api/v1/uploads",
      "PUT /__s3/profile-pictures/uploads/{id}/original",
      "POST /api/v1/uploads/{id}/complete",
      "PATCH /api/v1/users/me/profile-picture",
    ]);
    const [created, put, completed, patched] = calls;
    for (const answer of [created, completed, patched]) expect(answer?.answered).toMatch(BOOKMARK);
    expect(created?.sent).toBeNull();
    // Storage is not the API: the presigned PUT sends exactly the headers it was signed with.
    expect(put?.sent).toBeNull();
    expect(completed?.sent).toBe(created?.answered);
    expect(patched?.sent).toBe(completed?.answered);
    expect(result.bookmark).toBe(patched?.answered);
    expect(result.profile).toMatchObject({ hasCustomProfilePicture: true });
  });
});
