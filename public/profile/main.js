// The profile-photo page on its own: the access token comes from the URL fragment (`#token=…`,
// which browsers never send to a server) and is kept in this tab's sessionStorage; the API is at
// the origin named by `<meta name="profile-api-origin">`, or this page's own. An app that embeds
// these modules passes its own `getAccessToken` (WorkOS AuthKit's) to `createApiClient` instead.
import { ApiProblem, createApiClient } from "./api-client.js";
import { mountUserIdPicker } from "./member-picker.js";
import { displayName, mountPhotoEditor } from "./photo-editor.js";

const TOKEN_KEY = "profile-photo:access-token";

/** @returns {string | null} */
function takeAccessToken() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    // Out of the address bar and the history, so it is not bookmarked, shared or screenshotted.
    history.replaceState(null, "", `${location.pathname}${location.search}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no #${id}`);
  return element;
}

const pageError = byId("page-error", HTMLElement);
const token = takeAccessToken();
const apiOrigin =
  document.querySelector('meta[name="profile-api-origin"]')?.getAttribute("content") || location.origin;
const client = createApiClient({ apiOrigin, getAccessToken: () => token ?? "" });

if (!token) {
  byId("signed-out", HTMLElement).hidden = false;
} else {
  try {
    const me = await client.getMe();
    byId("signed-in-as", HTMLElement).textContent = `Signed in as ${displayName(me)} (${me.email})`;
    const mine = byId("my-photo", HTMLElement);
    mountPhotoEditor(byId("my-photo-editor", HTMLElement), {
      client,
      owner: "me",
      profile: me,
      whose: "Your",
    });
    mine.hidden = false;
    // The API decides what an admin may do; the section is only hidden from those who may not.
    if (me.role === "admin") {
      const memberEditor = byId("member-photo-editor", HTMLElement);
      mountUserIdPicker(byId("member-picker", HTMLFormElement), {
        client,
        onPick: (member) => {
          mountPhotoEditor(memberEditor, {
            client,
            owner: { userId: member.id },
            profile: member,
            whose: `${displayName(member)}'s`,
          });
        },
      });
      byId("members", HTMLElement).hidden = false;
    }
  } catch (problem) {
    pageError.textContent = problem instanceof ApiProblem ? problem.message : "Something went wrong.";
    if (!(problem instanceof ApiProblem)) console.error(problem);
  }
}
