// The profile-photo page on its own: the access token comes from the URL fragment (`#token=…`,
// which browsers never send to a server) and is kept in this tab's sessionStorage; the API is at
// the origin named by `<meta name="profile-api-origin">`, or this page's own. An app that embeds
// these modules passes its own `getAccessToken` (WorkOS AuthKit's) to `createApiClient` instead.
import { createApiClient, problemMessage } from "./api-client.js";
import { mountMemberPicker } from "./member-picker.js";
import { byId } from "./page-parts.js";
import { displayName, mountPhotoEditor } from "./photo-editor.js";

/** @typedef {import("./api-client.js").UserProfile} UserProfile */

const TOKEN_KEY = "profile-photo:access-token";
const BOOKMARK_KEY = "profile-photo:d1-bookmark";

/** The largest a photo is drawn here, in CSS px: the editor's (`.photo-editor img`, profile.css). */
const LARGEST_PHOTO_PX = 128;
/**
 * One thumbnail size for the whole page: the smallest of the API's that fills the largest photo on
 * this screen (128 px on a standard one, 256 on a 2x one, 512 beyond). One size, because one API
 * answer is shown in up to three places at once (your photo, your row, the member being edited).
 */
const pictureSize = [64, 128, 256, 512].find((size) => size >= LARGEST_PHOTO_PX * devicePixelRatio) ?? 512;

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

const pageError = byId("page-error", HTMLElement);
const token = takeAccessToken();
const apiOrigin =
  document.querySelector('meta[name="profile-api-origin"]')?.getAttribute("content") || location.origin;
// The newest database bookmark, kept for the tab like the token: after a reload the page still reads
// at least what it last saw, its own photo change included, whichever replica answers.
const bookmarks = {
  load: () => sessionStorage.getItem(BOOKMARK_KEY),
  /** @param {string} bookmark */
  save: (bookmark) => sessionStorage.setItem(BOOKMARK_KEY, bookmark),
};
const client = createApiClient({ apiOrigin, getAccessToken: () => token ?? "", bookmarks, pictureSize });

if (!token) {
  byId("signed-out", HTMLElement).hidden = false;
} else {
  try {
    const me = await client.getMe();
    byId("signed-in-as", HTMLElement).textContent = `Signed in as ${displayName(me)} (${me.email})`;

    /** @type {ReturnType<typeof mountMemberPicker> | undefined} */
    let members;
    /** @type {{ id: string, editor: ReturnType<typeof mountPhotoEditor> } | undefined} */
    let picked;
    /**
     * A person can be on the page up to three times (your photo, your row in the members list, the
     * member being edited): a change made in one shows in all.
     * @param {UserProfile} profile
     */
    const showEverywhere = (profile) => {
      members?.update(profile);
      if (profile.id === me.id) mine.show(profile);
      if (picked?.id === profile.id) picked.editor.show(profile);
    };

    const mine = mountPhotoEditor(byId("my-photo-editor", HTMLElement), {
      client,
      owner: "me",
      profile: me,
      whose: "Your",
      onChange: showEverywhere,
    });
    byId("my-photo", HTMLElement).hidden = false;

    // The API decides what an admin may do; the section is only hidden from those who may not.
    if (me.role === "admin") {
      const memberEditor = byId("member-photo-editor", HTMLElement);
      const pickedHeading = byId("picked-member", HTMLElement);
      members = mountMemberPicker(byId("member-picker", HTMLElement), {
        client,
        onPick: (member) => {
          pickedHeading.textContent = `${displayName(member)}'s photo`;
          pickedHeading.hidden = false;
          picked = {
            id: member.id,
            editor: mountPhotoEditor(memberEditor, {
              client,
              owner: { userId: member.id },
              profile: member,
              whose: `${displayName(member)}'s`,
              onChange: showEverywhere,
              onBusyChange: (busy) => members?.setEditorBusy(busy),
            }),
          };
          // On to the editor, which may be far below a long list; Tab then reaches "Choose photo".
          pickedHeading.focus();
        },
      });
      byId("members", HTMLElement).hidden = false;
    }
  } catch (problem) {
    pageError.textContent = problemMessage(problem);
  }
}
