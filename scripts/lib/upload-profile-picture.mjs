/**
 * The client path from a photo to a custom profile picture, through nothing but the HTTP API and
 * its presigned URL: create the upload, PUT the bytes, complete, set it with the PATCH. For seed
 * scripts and demos (Node 22, global fetch); a front end does the same four calls.
 *
 * @param {{ apiUrl: string, token: string, bytes: Uint8Array, contentType: string, filename?: string }} options
 * @returns {Promise<{ upload: Record<string, unknown>, profile: Record<string, unknown> }>}
 */
export async function uploadProfilePicture({ apiUrl, token, bytes, contentType, filename }) {
  const auth = { Authorization: `Bearer ${token}` };
  const created = await expectJson(
    await fetch(`${apiUrl}/api/v1/uploads`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
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
  const put = await fetch(created.uploadUrl, {
    method: created.uploadMethod,
    headers: created.uploadHeaders,
    body: bytes,
  });
  if (put.status !== 200) throw new Error(`PUT the bytes: ${put.status} ${await put.text()}`);
  const upload = await expectJson(
    await fetch(`${apiUrl}/api/v1/uploads/${created.upload.id}/complete`, { method: "POST", headers: auth }),
    200,
    "complete the upload",
  );
  if (upload.state !== "ready") throw new Error(`the upload ${upload.state}: ${upload.failureReason}`);
  const profile = await expectJson(
    await fetch(`${apiUrl}/api/v1/users/me/profile-picture`, {
      method: "PATCH",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ uploadId: upload.id }),
    }),
    200,
    "set the profile picture",
  );
  return { upload, profile };
}

async function expectJson(response, status, step) {
  const text = await response.text();
  if (response.status !== status) throw new Error(`${step}: ${response.status} ${text}`);
  return JSON.parse(text);
}
