/**
 * The client path from a photo to a custom profile picture, through nothing but the HTTP API and
 * its presigned URL: create the upload, PUT the bytes, complete, set it with the PATCH. For seed
 * scripts and demos (Node 22, global fetch); a front end does the same four calls.
 *
 * Each API call sends back the newest `x-d1-bookmark` the API answered (`bookmark` to start from
 * one), so every step reads at least what the one before it wrote, whichever database replica
 * answers; the result says the newest, for the caller's next request.
 *
 * @param {{ apiUrl: string, token: string, bytes: Uint8Array, contentType: string, filename?: string, bookmark?: string | null }} options
 * @returns {Promise<{ upload: Record<string, unknown>, profile: Record<string, unknown>, bookmark: string | null }>}
 */
export async function uploadProfilePicture({ apiUrl, token, bytes, contentType, filename, bookmark = null }) {
  let newest = bookmark;
  /** One API call with the token and the newest bookmark; keeps the bookmark its answer carries. */
  const api = async (path, init = {}) => {
    const headers = { ...init.headers, Authorization: `Bearer ${token}` };
    if (newest) headers["x-d1-bookmark"] = newest;
    const response = await fetch(`${apiUrl}${path}`, { ...init, headers });
    const answered = response.headers.get("x-d1-bookmark");
    // Bookmarks sort oldest to newest as strings.
    if (answered && (newest === null || answered > newest)) newest = answered;
    return response;
  };
  const json = { "Content-Type": "application/json" };
  const created = await expectJson(
    await api("/api/v1/uploads", {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        kind: "image",
        scope: "profile_picture",
        contentType,
        size: bytes.byteLength,
        filename: filename ?? null,
      }),
    }),
    201,
    "create the upload",
  );
  // Storage, not the API: exactly the headers the upload URL was signed with.
  const put = await fetch(created.uploadUrl, {
    method: created.uploadMethod,
    headers: created.uploadHeaders,
    body: bytes,
  });
  if (put.status !== 200) throw new Error(`PUT the bytes: ${put.status} ${await put.text()}`);
  const upload = await expectJson(
    await api(`/api/v1/uploads/${created.upload.id}/complete`, { method: "POST" }),
    200,
    "complete the upload",
  );
  if (upload.state !== "ready") throw new Error(`the upload ${upload.state}: ${upload.failureReason}`);
  const profile = await expectJson(
    await api("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      headers: json,
      body: JSON.stringify({ uploadId: upload.id }),
    }),
    200,
    "set the profile picture",
  );
  return { upload, profile, bookmark: newest };
}

async function expectJson(response, status, step) {
  const text = await response.text();
  if (response.status !== status) throw new Error(`${step}: ${response.status} ${text}`);
  return JSON.parse(text);
}
