import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserForThisFile, fileChooserOpenedBy, focusedControl, watchControlsAtRequests } from "./browser";
import { pngPhoto } from "./files";
import { memberList } from "./member-list";
import {
  api,
  ME_AS_THE_PAGE_ASKS,
  newOrganization,
  PAGE_PICTURE_SIZE,
  type Person,
  type Profile,
  pageUrl,
  removeFromOrganization,
  renameInWorkOS,
  signUp,
  stack,
} from "./people";
import { loadedImage, photoEditor } from "./photo-editor";

const browser = browserForThisFile();

/** Every control of the members list: none may be usable while a request is in flight. */
const LIST_CONTROLS = "#member-picker button, #member-picker input";
/** The page asks for this many members at a time (member-picker.js). */
const PAGE_SIZE = 20;

/** An admin of a new organization, and their teammates there, all signed up. */
async function organizationOf(...teammates: [firstName: string, lastName: string][]) {
  const org = newOrganization();
  const admin = await signUp({ firstName: "Ada", lastName: "Admin", org, role: "admin" });
  const members: Person[] = [];
  // A few at a time: each is a WorkOS lookup and a first request the worker provisions.
  for (let i = 0; i < teammates.length; i += 8) {
    const batch = teammates.slice(i, i + 8);
    members.push(
      ...(await Promise.all(batch.map(([firstName, lastName]) => signUp({ firstName, lastName, org })))),
    );
  }
  return { org, admin, members };
}

/** Open the page as `admin`, noting the list's controls at every request, and wait for the first page. */
async function openAsAdmin(admin: Person, firstStatus: string) {
  const session = await browser.open();
  const requestStarts = await watchControlsAtRequests(session.page, LIST_CONTROLS);
  await session.page.goto(pageUrl(admin));
  const members = memberList(session.page);
  await members.status.getByText(firstStatus, { exact: true }).waitFor();
  return { session, page: session.page, members, requestStarts };
}

/** `METHOD /path?query` of each request the page made, and whether the list's controls were all disabled then. */
async function requestsMade(requestStarts: () => Promise<{ request: string; disabled: boolean[] }[]>) {
  return (await requestStarts()).map(({ request, disabled }) => {
    const [method, url = ""] = request.split(" ");
    const { pathname, search } = new URL(url);
    return { request: `${method} ${pathname}${search}`, allDisabled: disabled.every(Boolean) };
  });
}

const isInMemberEditor = (page: Page) =>
  page.evaluate(() => document.activeElement?.closest("#member-photo-editor") !== null);

describe("the profile-photo page, for an admin", () => {
  it("finds a teammate by searching, changes their photo and shows it in their row", async () => {
    const { admin, members: people } = await organizationOf(
      ["Tom", "Teammate"],
      ["Tina", "Tester"],
      ["Bob", "Builder"],
    );
    const [teammate] = people as [Person];
    // Someone of another organization with a matching name is never listed.
    await signUp({ firstName: "Tom", lastName: "Stranger", org: newOrganization() });
    const { session, page, members, requestStarts } = await openAsAdmin(admin, "4 members.");
    expect(await members.names()).toEqual(["Ada Admin", "Bob Builder", "Tom Teammate", "Tina Tester"]);
    await page.getByRole("heading", { name: "Your organization's members" }).waitFor();

    await members.search.fill("tom");
    await members.search.press("Enter");
    await members.status.getByText('1 member matching "tom".', { exact: true }).waitFor();
    expect(await members.names()).toEqual(["Tom Teammate"]);
    expect((await loadedImage(members.photoOf("Tom Teammate"))).src).toBe(teammate.avatarUrl);

    await members.pick("Tom Teammate").click();
    await page.getByRole("heading", { name: "Tom Teammate's photo" }).waitFor();
    expect(await members.pick("Tom Teammate").getAttribute("aria-current")).toBe("true");
    const theirs = photoEditor(page, "#member-photo-editor");
    expect((await loadedImage(theirs.photo)).src).toBe(teammate.avatarUrl);

    await theirs.chooseAndUpload(pngPhoto);
    await theirs.status.getByText("Tom Teammate's new photo is set.").waitFor();
    // Read back: the teammate has it as their photo, and their row in the list shows it.
    const seenByTeammate = await api<Profile>(teammate.token, "GET", ME_AS_THE_PAGE_ASKS);
    expect(seenByTeammate.hasCustomProfilePicture).toBe(true);
    const newPhoto = { width: PAGE_PICTURE_SIZE, src: seenByTeammate.avatarUrl };
    expect(await loadedImage(members.photoOf("Tom Teammate"))).toEqual(newPhoto);
    expect(await loadedImage(theirs.photo)).toEqual(newPhoto);
    await session.screenshot("admin-teammate-photo");
    expect((await api<Profile>(admin.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(false);

    await theirs.remove.click();
    await theirs.status.getByText("Tom Teammate's photo is removed.").waitFor();
    expect((await loadedImage(members.photoOf("Tom Teammate"))).src).toBe(teammate.avatarUrl);
    expect((await api<Profile>(teammate.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(
      false,
    );

    // Every request, the list's own and the editor's, went out with the list's controls disabled.
    const made = await requestsMade(requestStarts);
    // Every call that answers profiles asks for the one size the page draws them in.
    const sized = `pictureSize=${PAGE_PICTURE_SIZE}`;
    expect(made.map(({ request }) => request)).toEqual([
      `GET /api/v1/users/me?${sized}`,
      `GET /api/v1/shared/users?limit=${PAGE_SIZE}&${sized}`,
      `GET /api/v1/shared/users?q=tom&limit=${PAGE_SIZE}&${sized}`,
      "POST /api/v1/uploads",
      expect.stringMatching(/^PUT \/__s3\//),
      expect.stringMatching(/^POST \/api\/v1\/uploads\/[0-9a-f-]{36}\/complete$/),
      `PATCH /api/v1/shared/users/${teammate.id}/profile-picture?${sized}`,
      `PATCH /api/v1/shared/users/${teammate.id}/profile-picture?${sized}`,
    ]);
    expect(made.filter(({ allDisabled }) => !allDisabled)).toEqual([]);
    expect(session.problems).toEqual([]);
  });

  it("pages through more members than one page holds with Load more, each once and in order", async () => {
    const count = 2 * PAGE_SIZE + 5;
    const lastNames = Array.from({ length: count }, (_, i) => `Member${String(i).padStart(2, "0")}`);
    const { admin, members: people } = await organizationOf(
      ...lastNames.map((lastName): [string, string] => ["Pat", lastName]),
    );
    const everyone = ["Ada Admin", ...lastNames.map((lastName) => `Pat ${lastName}`)];
    const { session, page, members, requestStarts } = await openAsAdmin(
      admin,
      `${PAGE_SIZE} members shown, more to load.`,
    );
    expect(await members.names()).toEqual(everyone.slice(0, PAGE_SIZE));
    // Renamed after the first page, the first member now sorts last, so the last page brings them
    // again: still one row, which then shows their new name.
    await renameInWorkOS(people[0] as Person, "Member99");

    await members.loadMore.click();
    await members.status
      .getByText(`${2 * PAGE_SIZE} members shown, more to load.`, { exact: true })
      .waitFor();
    expect(await members.names()).toEqual(everyone.slice(0, 2 * PAGE_SIZE));
    // The button was disabled while loading; focus went on to the first member it added.
    expect(await focusedControl(page)).toMatch(new RegExp(`^${everyone[PAGE_SIZE]} `));

    everyone[1] = "Pat Member99";
    await members.loadMore.click();
    await members.status.getByText(`${everyone.length} members.`, { exact: true }).waitFor();
    expect(await members.names()).toEqual(everyone);
    expect(await members.loadMore.isHidden()).toBe(true);
    await session.screenshot("admin-load-more");

    // Three pages, each asked for with the list's controls disabled: the first without a cursor,
    // the next two each with a cursor of its own.
    const made = await requestsMade(requestStarts);
    const pages = made.filter(({ request }) => request.startsWith("GET /api/v1/shared/users"));
    const queries = pages.map(({ request }) =>
      Object.fromEntries(new URL(request.split(" ")[1] ?? "", stack.apiOrigin).searchParams),
    );
    const limit = String(PAGE_SIZE);
    const pictureSize = String(PAGE_PICTURE_SIZE);
    expect(queries).toEqual([
      { limit, pictureSize },
      { limit, cursor: expect.any(String), pictureSize },
      { limit, cursor: expect.any(String), pictureSize },
    ]);
    expect(queries[1]?.cursor).not.toBe(queries[2]?.cursor);
    expect(pages.every(({ allDisabled }) => allDisabled)).toBe(true);
    expect(session.problems).toEqual([]);
  });

  it("picks a member and changes their photo with the keyboard alone", async () => {
    const { admin, members: people } = await organizationOf(["Tom", "Teammate"], ["Bob", "Builder"]);
    const [teammate] = people as [Person];
    const { session, page, members } = await openAsAdmin(admin, "3 members.");

    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toMatch(/^Choose photo/);
    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Search members");
    await page.keyboard.type("tom");
    await page.keyboard.press("Enter");
    await members.status.getByText('1 member matching "tom".', { exact: true }).waitFor();
    // The box was disabled while searching; focus came back to it.
    expect(await focusedControl(page)).toBe("Search members");

    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Search");
    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Tom Teammate tom.teammate@example.com");
    await page.keyboard.press("Enter");
    // Picking moves on to the editor, under the heading that says whose photo it is.
    expect(await focusedControl(page)).toBe("Tom Teammate's photo");

    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toMatch(/^Choose photo/);
    expect(await isInMemberEditor(page)).toBe(true);
    const chooser = await fileChooserOpenedBy(page, () => page.keyboard.press("Space"));
    await chooser.setFiles(pngPhoto);
    const theirs = photoEditor(page, "#member-photo-editor");
    await theirs.preview.waitFor({ state: "visible" });
    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Upload photo");
    await page.keyboard.press("Enter");
    await theirs.status.getByText("Tom Teammate's new photo is set.").waitFor();

    const seenByTeammate = await api<Profile>(teammate.token, "GET", ME_AS_THE_PAGE_ASKS);
    expect(await loadedImage(members.photoOf("Tom Teammate"))).toEqual({
      width: PAGE_PICTURE_SIZE,
      src: seenByTeammate.avatarUrl,
    });
    expect(await focusedControl(page)).toMatch(/^Choose photo/);
    expect(await isInMemberEditor(page)).toBe(true);
    await session.screenshot("admin-keyboard-only");
    expect(session.problems).toEqual([]);
  });

  it("shows a change of the admin's own photo in each place they are on the page", async () => {
    const { admin } = await organizationOf(["Tom", "Teammate"]);
    const { session, page, members } = await openAsAdmin(admin, "2 members.");
    const mine = photoEditor(page, "#my-photo-editor");
    await members.pick("Ada Admin").click();
    const picked = photoEditor(page, "#member-photo-editor");
    await picked.name.getByText("Ada Admin").waitFor();

    // Set through the members list: "Your photo" and the row show it too.
    await picked.chooseAndUpload(pngPhoto);
    await picked.status.getByText("Ada Admin's new photo is set.").waitFor();
    const set = await api<Profile>(admin.token, "GET", ME_AS_THE_PAGE_ASKS);
    expect(set.hasCustomProfilePicture).toBe(true);
    for (const photo of [mine.photo, picked.photo, members.photoOf("Ada Admin")]) {
      expect(await loadedImage(photo)).toEqual({ width: PAGE_PICTURE_SIZE, src: set.avatarUrl });
    }
    expect(await mine.remove.isVisible()).toBe(true);

    // Removed under "Your photo": the list's row and the editor below it show the WorkOS picture again.
    await mine.remove.click();
    await mine.status.getByText("Your photo is removed.").waitFor();
    for (const photo of [mine.photo, picked.photo, members.photoOf("Ada Admin")]) {
      expect((await loadedImage(photo)).src).toBe(admin.avatarUrl);
    }
    expect(await picked.remove.isHidden()).toBe(true);
    expect((await api<Profile>(admin.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(false);
    await session.screenshot("admin-own-photo");
    expect(session.problems).toEqual([]);
  });

  it("draws the initials image the API gives a member with no WorkOS picture, or one it cannot import", async () => {
    const org = newOrganization();
    const admin = await signUp({ firstName: "Ada", lastName: "Admin", org, role: "admin" });
    const nia = await signUp({ firstName: "Nia", lastName: "Nophoto", org, workosPicture: "none" });
    const bo = await signUp({ firstName: "Bo", lastName: "Broken", org, workosPicture: "broken" });
    const { session, members } = await openAsAdmin(admin, "3 members.");
    for (const [name, person] of [
      ["Nia Nophoto", nia],
      ["Bo Broken", bo],
    ] as const) {
      const profile = await api<Profile>(
        admin.token,
        "GET",
        `/api/v1/shared/users/${person.id}?pictureSize=128`,
      );
      expect(profile.avatarSource).toBe("initials");
      // An image of the API's own, on its origin, the size asked: the page draws no fallback of its own.
      expect(profile.avatarUrl.startsWith(`${stack.apiOrigin}/avatars/initials/`)).toBe(true);
      expect(await loadedImage(members.photoOf(name))).toEqual({
        width: PAGE_PICTURE_SIZE,
        src: profile.avatarUrl,
      });
    }
    // The image is not read out: the button's accessible name is the member's name and email.
    const named = members.root.getByRole("button", { name: "Bo Broken bo.broken@example.com", exact: true });
    expect(await named.count()).toBe(1);
    await session.screenshot("admin-no-photo");
    // The broken WorkOS picture is the worker's to fetch, never the browser's: no complaint at all.
    expect(session.problems).toEqual([]);
  });

  it("shows the API's detail when it refuses a search, and keeps the members it listed", async () => {
    const { admin } = await organizationOf(["Tom", "Teammate"]);
    const { session, members } = await openAsAdmin(admin, "2 members.");
    const tooLong = "t".repeat(101);
    const refused = await fetch(`${stack.apiOrigin}/api/v1/shared/users?q=${tooLong}`, {
      headers: { Authorization: `Bearer ${admin.token}` },
    });
    expect(refused.status).toBe(422);
    const { detail } = (await refused.json()) as { detail: { loc: string[]; msg: string }[] };
    expect(detail).toEqual([expect.objectContaining({ loc: ["query", "q"] })]);

    await members.search.fill(tooLong);
    await members.searchButton.click();
    await members.error.getByText(`q: ${detail[0]?.msg}`, { exact: true }).waitFor();
    expect(await members.names()).toEqual(["Ada Admin", "Tom Teammate"]);
    expect(await members.search.isEnabled()).toBe(true);
    expect(await members.pick("Tom Teammate").isEnabled()).toBe(true);
    await session.screenshot("admin-search-refused");
    // The browser logs the 422 it was answered; that is the only complaint.
    expect(session.problems).toEqual([expect.stringMatching(/422/)]);
  });

  it("shows the API's detail when the picked member has left the organization, and changes nothing", async () => {
    const { org, admin, members: people } = await organizationOf(["Tom", "Teammate"]);
    const [teammate] = people as [Person];
    const { session, page, members } = await openAsAdmin(admin, "2 members.");
    await members.pick("Tom Teammate").click();
    const theirs = photoEditor(page, "#member-photo-editor");
    await theirs.name.getByText("Tom Teammate").waitFor();

    await removeFromOrganization(teammate, org);
    await theirs.chooseAndUpload(pngPhoto);
    await theirs.error.getByText("User not found.", { exact: true }).waitFor();
    expect((await api<Profile>(teammate.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(
      false,
    );
    expect((await loadedImage(members.photoOf("Tom Teammate"))).src).toBe(teammate.avatarUrl);
    expect((await loadedImage(theirs.photo)).src).toBe(teammate.avatarUrl);

    // A new search no longer finds them.
    await members.search.fill("tom");
    await members.search.press("Enter");
    await members.status.getByText('No members match "tom".', { exact: true }).waitFor();
    expect(await members.names()).toEqual([]);
    await session.screenshot("admin-member-left");
    expect(session.problems).toEqual([expect.stringMatching(/404/)]);
  });

  it("is not offered to a member", async () => {
    const member = await signUp({ firstName: "Mia", lastName: "Member", org: newOrganization() });
    const session = await browser.open();
    await session.page.goto(pageUrl(member));
    await photoEditor(session.page, "#my-photo-editor").name.getByText("Mia Member").waitFor();
    expect(await session.page.locator("#members").isHidden()).toBe(true);
    // Nor does the page ask for the members list on a member's behalf.
    expect(session.requests.filter((request) => request.includes("/api/v1/shared/users"))).toEqual([]);
    expect(session.problems).toEqual([]);
  });
});
