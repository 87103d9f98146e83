// The admin's way to a teammate: the organization's members from `GET /api/v1/shared/users`, each
// with their photo and name, searched by the start of a name or email and paged with "Load more".
// Picking one hands their profile to `onPick` (the page opens the photo editor for them); `update`
// shows a member's changed profile in their row.
//
// The search runs on submit (Enter, or the Search button) rather than as one types: every control
// here is disabled while a request is in flight, and a search box that disabled itself between
// keystrokes would drop what is typed meanwhile.
import { problemMessage } from "./api-client.js";
import { cloneTemplate, part } from "./page-parts.js";
import { displayName } from "./photo-editor.js";

/** @typedef {import("./api-client.js").ApiClient} ApiClient */
/** @typedef {import("./api-client.js").UserProfile} UserProfile */

/** Members asked for at a time: about a screenful of rows. */
const PAGE_SIZE = 20;

/**
 * @typedef {object} MemberRow
 * @property {UserProfile} profile the latest the page knows
 * @property {HTMLButtonElement} button
 * @property {HTMLImageElement} photo
 * @property {HTMLElement} name
 * @property {HTMLElement} email
 */

/** @param {MemberRow} row */
function showMember(row) {
  row.name.textContent = displayName(row.profile);
  row.email.textContent = row.profile.email;
  row.photo.src = row.profile.avatarUrl;
}

/**
 * @param {HTMLElement} root holds the parts `search` (a form with `query` and a submit button),
 *   `list`, `more`, `status` and `error`; rows come from `<template id="member-row">`
 * @param {{ client: ApiClient, onPick: (profile: UserProfile) => void }} options
 */
export function mountMemberPicker(root, { client, onPick }) {
  const search = part(root, "search", HTMLFormElement);
  const query = part(search, "query", HTMLInputElement);
  const searchButton = part(search, "search-button", HTMLButtonElement);
  const list = part(root, "list", HTMLUListElement);
  const more = part(root, "more", HTMLButtonElement);
  const status = part(root, "status", HTMLElement);
  const error = part(root, "error", HTMLElement);

  /** Rows by user id, in the order shown. @type {Map<string, MemberRow>} */
  const rows = new Map();
  /** The search the rows answer (`""`: everyone), and where its next page starts. */
  let shownQuery = "";
  /** @type {string | null} */
  let nextCursor = null;
  /** @type {string | undefined} */
  let pickedId;
  let loading = false;
  let editorBusy = false;

  function syncControls() {
    const busy = loading || editorBusy;
    for (const control of [query, searchButton, more, ...[...rows.values()].map((row) => row.button)]) {
      control.disabled = busy;
    }
    if (busy) root.setAttribute("aria-busy", "true");
    else root.removeAttribute("aria-busy");
  }

  function summary() {
    const matching = shownQuery ? ` matching "${shownQuery}"` : "";
    if (rows.size === 0) return shownQuery ? `No members match "${shownQuery}".` : "No members.";
    const members = `${rows.size} ${rows.size === 1 ? "member" : "members"}${matching}`;
    return nextCursor === null ? `${members}.` : `${members} shown, more to load.`;
  }

  /** @param {UserProfile} profile */
  function addRow(profile) {
    const fragment = cloneTemplate("member-row");
    /** @type {MemberRow} */
    const row = {
      profile,
      button: part(fragment, "pick", HTMLButtonElement),
      photo: part(fragment, "photo", HTMLImageElement),
      name: part(fragment, "name", HTMLElement),
      email: part(fragment, "email", HTMLElement),
    };
    row.button.addEventListener("click", () => {
      rows.get(pickedId ?? "")?.button.removeAttribute("aria-current");
      pickedId = row.profile.id;
      row.button.setAttribute("aria-current", "true");
      onPick(row.profile);
    });
    if (profile.id === pickedId) row.button.setAttribute("aria-current", "true");
    showMember(row);
    rows.set(profile.id, row);
    list.append(fragment);
    return row;
  }

  /**
   * Ask for a page of members: the first of a search (replacing the rows) or the next one (added).
   * @param {string} q
   * @param {string | null} cursor
   * @param {"query" | "first-new" | "nowhere"} focusAfter where a keyboard user goes on from, when
   *   the control they used was disabled meanwhile
   */
  async function load(q, cursor, focusAfter) {
    error.textContent = "";
    status.textContent = cursor ? "Loading more members…" : "Searching…";
    loading = true;
    syncControls();
    /** @type {MemberRow | undefined} */
    let firstNew;
    try {
      const page = await client.listMembers({ q, limit: PAGE_SIZE, cursor: cursor ?? undefined });
      if (cursor === null) {
        rows.clear();
        list.replaceChildren();
      }
      shownQuery = q;
      nextCursor = page.nextCursor;
      for (const profile of page.items) {
        // Keyset pages never repeat a member, but one renamed between two pages moves in the
        // order and can come again after the cursor: their row shows them as they are now.
        if (rows.has(profile.id)) {
          update(profile);
          continue;
        }
        const row = addRow(profile);
        firstNew ??= row;
      }
      status.textContent = summary();
    } catch (problem) {
      // The rows stay as they were, and so does what "Load more" would ask for: it can be retried.
      status.textContent = "";
      error.textContent = problemMessage(problem);
    } finally {
      loading = false;
      more.hidden = nextCursor === null;
      syncControls();
      if (!root.contains(document.activeElement)) {
        if (focusAfter === "query") query.focus();
        else if (focusAfter === "first-new") (firstNew?.button ?? (more.hidden ? query : more)).focus();
      }
    }
  }

  /**
   * Show a member's profile as the API last answered it (a changed photo, a new name).
   * @param {UserProfile} profile
   */
  function update(profile) {
    const row = rows.get(profile.id);
    if (!row) return;
    row.profile = profile;
    showMember(row);
  }

  search.addEventListener("submit", (event) => {
    event.preventDefault();
    void load(query.value.trim(), null, "query");
  });
  more.addEventListener("click", () => void load(shownQuery, nextCursor, "first-new"));
  void load("", null, "nowhere");

  return {
    update,
    /**
     * While the picked member's editor has a request in flight, nobody else can be picked (their
     * editor would take its place, and its outcome would go unseen).
     * @param {boolean} busy
     */
    setEditorBusy(busy) {
      editorBusy = busy;
      syncControls();
    },
  };
}
