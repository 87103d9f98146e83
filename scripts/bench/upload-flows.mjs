// The two ways a client sets a profile photo, as the benchmark drives them: four calls (create the
// upload, PUT its bytes to the presigned URL, complete, PATCH) or one (PUT the bytes onto the profile).
// Each step is timed on its own, with the D1 round trips its Server-Timing reports.
import { request } from "./load.mjs";

/** `response`, unless it is not a 2xx: then the run cannot go on. */
export const ok = (response, what) => {
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`${what}: ${response.status} ${response.body.slice(0, 200)}`);
  }
  return response;
};

/** D1 round trips of one answer, from `Server-Timing: d1;desc="<n>"` (0 when it has none: storage). */
const d1Of = (response) => Number(/d1;desc="(\d+)"/.exec(response.serverTiming ?? "")?.[1] ?? 0);

/** One request, timed: its answer, ms and D1 round trips. */
async function step(worker, spec, what) {
  const started = performance.now();
  const response = ok(await request(worker.port, spec), what);
  return { response, ms: performance.now() - started, d1: d1Of(response) };
}

/**
 * The four calls for `photo` as `authorization`'s user, each timed: create, PUT to the presigned URL
 * (with the headers it lists; Node sends Content-Length itself), complete, and, unless `attach` is
 * false, the PATCH that sets it. Throws unless the upload ends ready (and set).
 */
export async function fourCalls(worker, authorization, photo, { attach = true } = {}) {
  const create = await step(
    worker,
    {
      method: "POST",
      path: "/api/v1/uploads",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({
        kind: "image",
        scope: "profile_picture",
        contentType: "image/jpeg",
        size: photo.bytes.length,
      }),
    },
    "POST /api/v1/uploads",
  );
  const { upload, uploadUrl, uploadHeaders } = JSON.parse(create.response.body);
  const url = new URL(uploadUrl);
  const { "Content-Length": _, ...headers } = uploadHeaders;
  const put = await step(
    worker,
    { method: "PUT", path: `${url.pathname}${url.search}`, headers, body: photo.bytes },
    "PUT to the upload URL",
  );
  const complete = await step(
    worker,
    { method: "POST", path: `/api/v1/uploads/${upload.id}/complete`, headers: { authorization } },
    "complete",
  );
  if (JSON.parse(complete.response.body).state !== "ready")
    throw new Error(`complete: ${complete.response.body.slice(0, 200)}`);
  const steps = { create, put, complete };
  if (!attach) return steps;
  const patch = await step(
    worker,
    {
      method: "PATCH",
      path: "/api/v1/users/me/profile-picture",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({ uploadId: upload.id }),
    },
    "PATCH /api/v1/users/me/profile-picture",
  );
  return { ...steps, patch };
}

/** The one call for `photo`: its bytes PUT onto `authorization`'s user's profile, with Content-Length. */
export async function oneCall(worker, authorization, photo) {
  const put = await step(
    worker,
    {
      method: "PUT",
      path: "/api/v1/users/me/profile-picture",
      headers: { authorization, "content-type": "image/jpeg" },
      body: photo.bytes,
    },
    "PUT /api/v1/users/me/profile-picture",
  );
  if (!JSON.parse(put.response.body).hasCustomProfilePicture)
    throw new Error(`one-call PUT: ${put.response.body.slice(0, 200)}`);
  return { put };
}
