import { describe, expect, it } from "vitest";
import { browserForThisFile } from "./browser";
import { pngPhoto } from "./files";
import { api, newOrganization, type Profile, pageUrl, signUp } from "./people";
import { loadedImage, photoEditor } from "./photo-editor";

const browser = browserForThisFile();

describe("the profile-photo page, for an admin", () => {
  it("changes and removes a teammate's photo", async () => {
    const org = newOrganization();
    const admin = await signUp({ firstName: "Ada", lastName: "Admin", org, role: "admin" });
    const teammate = await signUp({ firstName: "Tom", lastName: "Teammate", org });
    const session = await browser.open();
    const { page } = session;
    await page.goto(pageUrl(admin));
    await page.getByRole("heading", { name: "A teammate's photo" }).waitFor();

    await page.getByLabel("Teammate's user id").fill(teammate.id);
    await page.getByRole("button", { name: "Show teammate" }).click();
    const theirs = photoEditor(page, "#member-photo-editor");
    await theirs.name.getByText("Tom Teammate").waitFor();
    expect((await loadedImage(theirs.photo)).src).toBe(teammate.workosPictureUrl);

    await theirs.chooseAndUpload(pngPhoto);
    await theirs.status.getByText("Tom Teammate's new photo is set.").waitFor();
    expect((await loadedImage(theirs.photo)).width).toBe(256);
    await session.screenshot("admin-teammate-photo");

    // The teammate sees it as their photo; the admin's own is untouched.
    const seenByTeammate = await api<Profile>(teammate.token, "GET", "/api/v1/users/me");
    expect(seenByTeammate.hasCustomProfilePicture).toBe(true);
    expect((await loadedImage(theirs.photo)).src).toBe(seenByTeammate.profilePictureUrl);
    expect((await api<Profile>(admin.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(false);

    await theirs.remove.click();
    await theirs.status.getByText("Tom Teammate's photo is removed.").waitFor();
    expect((await loadedImage(theirs.photo)).src).toBe(teammate.workosPictureUrl);
    expect((await api<Profile>(teammate.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(
      false,
    );
    expect(session.problems).toEqual([]);
  });

  it("shows the API's detail for someone outside the organization, and changes nothing", async () => {
    const admin = await signUp({
      firstName: "Ada",
      lastName: "Admin",
      org: newOrganization(),
      role: "admin",
    });
    const stranger = await signUp({ firstName: "Sam", lastName: "Stranger", org: newOrganization() });
    const session = await browser.open();
    const { page } = session;
    await page.goto(pageUrl(admin));
    await page.getByLabel("Teammate's user id").fill(stranger.id);
    await page.getByRole("button", { name: "Show teammate" }).click();
    await page.locator("#member-picker").getByRole("alert").getByText("User not found.").waitFor();
    expect(await page.locator("#member-photo-editor").innerHTML()).toBe("");
    expect((await api<Profile>(stranger.token, "GET", "/api/v1/users/me")).hasCustomProfilePicture).toBe(
      false,
    );
    // The browser logs the 404 it was answered; that is the only complaint.
    expect(session.problems).toEqual([expect.stringMatching(/404/)]);
  });

  it("is not offered to a member", async () => {
    const member = await signUp({ firstName: "Mia", lastName: "Member", org: newOrganization() });
    const session = await browser.open();
    await session.page.goto(pageUrl(member));
    await photoEditor(session.page, "#my-photo-editor").name.getByText("Mia Member").waitFor();
    expect(await session.page.locator("#members").isHidden()).toBe(true);
    expect(session.problems).toEqual([]);
  });
});
