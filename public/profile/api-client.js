// The profile-picture API as the page uses it: typed with JSDoc, checked by `tsc -p public`.
// Every call carries the access token; every refusal becomes an `ApiProblem` holding the API's own
// `detail`, which the page shows as it is.

/**
 * @typedef {object} UserProfile
 * @property {string} id
 * @property {string} email
 * @property {boolean} emailVerified
 * @property {string} firstName
 * @property {string} lastName
 * @property {string | null} profilePictureUrl
 * @property {string} role
 * @property {string} state
 * @property {string | null} lastLogin
 * @property {string} createdAt
 * @property {boolean} hasCustomProfilePicture
 * @property {string} avatarUrl what to draw for the person, never null: the page draws nothing else
 * @property {"custom" | "identity_provider" | "initials"} avatarSource
 */

/**
 * @typedef {object} Upload
 * @property {string} id
 * @property {"pending" | "ready" | "failed"} state
 * @property {string | null} failureReason
 */

/**
 * @typedef {object} StartedUpload
 * @property {Upload} upload
 * @property {string} uploadUrl
 * @property {"PUT"} uploadMethod
 * @property {Record<string, string>} uploadHeaders
 * @property {string} expiresAt
 */

/**
 * @typedef {object} MembersPage
 * @property {UserProfile[]} items
 * @property {string | null} nextCursor pass it back as `cursor` for the next page; null on the last
 */

/** Whose photo a call is about: the signed-in user's, or a teammate's by id. */
/** @typedef {"me" | { userId: string }} PhotoOwner */

/** A refusal, by the API (its `code` and `detail`), by storage, or by the network. */
export class ApiProblem extends Error {
  /**
   * @param {number} status the HTTP status; 0 when no answer came
   * @param {string} code
   * @param {string} detail what the user is shown
   */
  constructor(status, code, detail) {
    super(detail);
    this.name = "ApiProblem";
    this.status = status;
    this.code = code;
  }
}

/**
 * The line a user is shown for a failure: the API's (or storage's) own words for a refusal, a
 * generic line for anything else, which is a bug in the page and goes to the console in full.
 * @param {unknown} problem
 * @returns {string}
 */
export function problemMessage(problem) {
  if (problem instanceof ApiProblem) return problem.message;
  console.error(problem);
  return "Something went wrong.";
}

/** Where in a request a validation item points (`loc[0]`); the field after it says enough. */
const REQUEST_PARTS = new Set(["body", "query", "path"]);

/**
 * The API's `detail` as text: a string as it is, a validation list as its messages.
 * @param {unknown} detail
 * @returns {string | undefined}
 */
function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const { loc, msg } = /** @type {{ loc?: unknown[], msg?: unknown }} */ (item ?? {});
        const path = Array.isArray(loc) && REQUEST_PARTS.has(String(loc[0])) ? loc.slice(1) : loc;
        const field = Array.isArray(path) ? path.join(".") : "";
        return field ? `${field}: ${String(msg)}` : String(msg);
      })
      .join("; ");
  }
  return undefined;
}

/**
 * Where a client keeps the newest D1 bookmark the API answered with.
 * @typedef {object} BookmarkStore
 * @property {() => string | null} load
 * @property {(bookmark: string) => void} save
 */

/**
 * The API's reads may come from a database replica near the user, which can lag behind a write for a
 * moment. Every answer carries `x-d1-bookmark`; a request that sends back the newest one seen reads
 * at least what that answer saw, its own changes included.
 */
const BOOKMARK_HEADER = "x-d1-bookmark";

/** @returns {BookmarkStore} kept for as long as the client */
function bookmarksInMemory() {
  /** @type {string | null} */
  let newest = null;
  return {
    load: () => newest,
    save: (bookmark) => {
      newest = bookmark;
    },
  };
}

/**
 * Keep `answered` if it is newer than what `bookmarks` holds: bookmarks sort oldest to newest as
 * strings, and answers to requests in flight together may arrive in any order.
 * @param {BookmarkStore} bookmarks
 * @param {string | null} answered
 */
function keepNewest(bookmarks, answered) {
  const held = bookmarks.load();
  if (answered && (held === null || answered > held)) bookmarks.save(answered);
}

/**
 * @param {{
 *   apiOrigin: string,
 *   getAccessToken: () => Promise<string> | string,
 *   bookmarks?: BookmarkStore,
 *   pictureSize?: number,
 * }} options
 *   `getAccessToken` is called before every request, so an embedding app can hand over a fresh
 *   token each time (WorkOS AuthKit's `getAccessToken()` does exactly that). `bookmarks` is where
 *   the newest bookmark is kept: in memory by default; somewhere that outlives the page (the
 *   standalone page uses sessionStorage) keeps a reload reading its own last change too.
 *   `pictureSize` (64, 128, 256 or 512) is the size every profile's `avatarUrl` (and `profilePictureUrl`) is asked
 *   in; left out, the API's own default (256).
 */
export function createApiClient({ apiOrigin, getAccessToken, bookmarks = bookmarksInMemory(), pictureSize }) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<unknown>}
   */
  async function request(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${await getAccessToken()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const bookmark = bookmarks.load();
    if (bookmark) headers[BOOKMARK_HEADER] = bookmark;
    let response;
    try {
      response = await fetch(`${apiOrigin}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch {
      throw new ApiProblem(0, "network_error", "The service could not be reached. Check your connection.");
    }
    keepNewest(bookmarks, response.headers.get(BOOKMARK_HEADER));
    const data = /** @type {{ detail?: unknown, code?: unknown } | null} */ (
      await response.json().catch(() => null)
    );
    if (!response.ok) {
      throw new ApiProblem(
        response.status,
        typeof data?.code === "string" ? data.code : "unknown",
        detailText(data?.detail) ?? `The service answered ${response.status}.`,
      );
    }
    return data;
  }

  /**
   * The query of a call that answers profiles: `params`, and the picture size asked for.
   * @param {URLSearchParams} [params]
   */
  const profileQuery = (params = new URLSearchParams()) => {
    if (pictureSize !== undefined) params.set("pictureSize", String(pictureSize));
    return params.size ? `?${params}` : "";
  };

  /** @param {PhotoOwner} owner */
  const profilePicturePath = (owner) =>
    owner === "me"
      ? "/api/v1/users/me/profile-picture"
      : `/api/v1/shared/users/${encodeURIComponent(owner.userId)}/profile-picture`;

  return {
    /** @returns {Promise<UserProfile>} */
    getMe: async () => /** @type {UserProfile} */ (await request("GET", `/api/v1/users/me${profileQuery()}`)),

    /**
     * One page of the caller's organization's members, by last name, then first name.
     * @param {{ q?: string, limit?: number, cursor?: string }} query `q`: the start of a first name,
     *   last name, "first last" or email; `cursor`: the previous page's `nextCursor`
     * @returns {Promise<MembersPage>}
     */
    listMembers: async ({ q, limit, cursor }) => {
      const params = new URLSearchParams();
      if (q) params.set("q", q);
      if (limit !== undefined) params.set("limit", String(limit));
      if (cursor) params.set("cursor", cursor);
      return /** @type {MembersPage} */ (await request("GET", `/api/v1/shared/users${profileQuery(params)}`));
    },

    /** @param {File} file @returns {Promise<StartedUpload>} */
    startUpload: async (file) =>
      /** @type {StartedUpload} */ (
        await request("POST", "/api/v1/uploads", {
          kind: "image",
          scope: "profile_picture",
          contentType: file.type,
          size: file.size,
          // Kept for display only; a name the API would refuse is simply left out.
          filename: file.name && file.name.length <= 255 ? file.name : null,
        })
      ),

    /** @param {string} uploadId @returns {Promise<Upload>} */
    completeUpload: async (uploadId) =>
      /** @type {Upload} */ (
        await request("POST", `/api/v1/uploads/${encodeURIComponent(uploadId)}/complete`)
      ),

    /**
     * Set (an upload id) or remove (`null`) a profile picture.
     * @param {PhotoOwner} owner
     * @param {string | null} uploadId
     * @returns {Promise<UserProfile>}
     */
    setProfilePicture: async (owner, uploadId) =>
      /** @type {UserProfile} */ (
        await request("PATCH", `${profilePicturePath(owner)}${profileQuery()}`, { uploadId })
      ),
  };
}

/** @typedef {ReturnType<typeof createApiClient>} ApiClient */

/**
 * Browsers will not let a script set Content-Length (a forbidden request header): they send the
 * body's real length themselves, which is the size the URL was signed for. Every other header in
 * `uploadHeaders` is sent exactly as given.
 * @see https://fetch.spec.whatwg.org/#forbidden-request-header
 */
const SET_BY_THE_BROWSER = new Set(["content-length"]);

/**
 * PUT the file to its presigned URL. XMLHttpRequest rather than fetch: only it reports upload
 * progress. Storage answers errors in S3's XML; its `<Message>` becomes the detail.
 * @param {StartedUpload} started
 * @param {Blob} file
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<void>}
 */
export function putBytes(started, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(started.uploadMethod, started.uploadUrl);
    for (const [name, value] of Object.entries(started.uploadHeaders)) {
      if (!SET_BY_THE_BROWSER.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const message = new DOMParser()
        .parseFromString(xhr.responseText, "application/xml")
        .querySelector("Message")?.textContent;
      reject(
        new ApiProblem(xhr.status, "storage_refused", `Storage refused the photo: ${message ?? xhr.status}`),
      );
    });
    xhr.addEventListener("error", () =>
      reject(new ApiProblem(0, "network_error", "The photo could not be sent to storage.")),
    );
    xhr.send(file);
  });
}
