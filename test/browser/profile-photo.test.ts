import { describe, expect, it } from "vitest";
import { browserForThisFile, fileChooserOpenedBy, focusedControl, watchControlsAtRequests } from "./browser";
import { type ChosenFile, jpegPhoto, notAnImage, pngPhoto, tooLarge } from "./files";
import {
  api,
  ME_AS_THE_PAGE_ASKS,
  newOrganization,
  PAGE_PICTURE_SIZE,
  type Profile,
  pageUrl,
  requestLog,
  signUp,
  stack,
} from "./people";
import { loadedImage, photoEditor } from "./photo-editor";

type StartedUpload = import("../../public/profile/api-client.js").StartedUpload;

const browser = browserForThisFile();

/**
 * Sign a new member up and open the page as them, on a screen of `deviceScaleFactor` (1x unless
 * told); the page is on another origin than the API.
 */
async function openAsNewMember(firstName = "Grace", lastName = "Hopper", deviceScaleFactor = 1) {
  const person = await signUp({ firstName, lastName, org: newOrganization() });
  const session = await browser.open({ deviceScaleFactor });
  // Every value the page gives a progress bar, so a test can see the bar move.
  await session.page.addInitScript(() => {
    const values: number[] = [];
    Object.assign(window, { progressValues: values });
    const value = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
    Object.defineProperty(HTMLProgressElement.prototype, "value", {
      get() {
        return value?.get?.call(this);
      },
      set(next: number) {
        values.push(next);
        value?.set?.call(this, next);
      },
    });
  });
  const requestStarts = await watchControlsAtRequests(
    session.page,
    ".photo-editor button, .photo-editor input",
  );
  await session.page.goto(pageUrl(person));
  const mine = photoEditor(session.page, "#my-photo-editor");
  await mine.name.getByText(`${firstName} ${lastName}`).waitFor();
  return { person, page: session.page, mine, session, requestStarts };
}

describe("the profile-photo page", () => {
  it.each<[string, ChosenFile]>([
    ["PNG", pngPhoto],
    ["JPEG", jpegPhoto],
  ])(
    "sets a photo from a %s file and shows it at 128 px, the size a 1x screen needs, also after a reload",
    async (kind, file) => {
      const { person, page, mine, session, requestStarts } = await openAsNewMember();
      // The token left the address bar once the page had it.
      expect(page.url()).toBe(`${stack.pageOrigin}/profile`);
      expect((await loadedImage(mine.photo)).src).toBe(person.avatarUrl);
      expect(await mine.remove.isHidden()).toBe(true);

      await mine.chooseAndUpload(file);
      await mine.status.getByText("Your new photo is set.").waitFor();
      const shown = await loadedImage(mine.photo);
      expect(shown.width).toBe(PAGE_PICTURE_SIZE);
      expect(shown.src.startsWith(`${stack.storageOrigin}/__s3/`)).toBe(true);
      expect(await mine.remove.isVisible()).toBe(true);
      expect(await mine.photo.getAttribute("alt")).toBe(`${person.firstName} ${person.lastName}`);
      // Create, PUT, complete, PATCH: each sent with every button and the file input disabled.
      const starts = await requestStarts();
      expect(starts.map((start) => start.request.split(" ")[0])).toEqual(["POST", "PUT", "POST", "PATCH"]);
      for (const { disabled } of starts) expect(disabled).toEqual(disabled.map(() => true));
      // The progress bar followed the PUT's upload progress to the end, and is gone once done.
      const progress = await page.evaluate(
        () => (window as unknown as { progressValues: number[] }).progressValues,
      );
      expect(progress[0]).toBe(0);
      expect(progress.at(-1)).toBe(100);
      expect(await mine.root.getByLabel("Upload progress").isHidden()).toBe(true);
      await session.screenshot(`profile-photo-${kind.toLowerCase()}`);

      // The bytes went to the bucket's presigned URL with the page's PUT, on the bucket's own origin.
      const put = session.requests.find((request) => request.startsWith("PUT "));
      expect(put?.startsWith(`PUT ${stack.storageOrigin}/__s3/`)).toBe(true);
      // Read back through the API: the photo is set.
      const profile = await api<Profile>(person.token, "GET", ME_AS_THE_PAGE_ASKS);
      expect(profile.hasCustomProfilePicture).toBe(true);

      await page.reload();
      await mine.name.getByText(`${person.firstName} ${person.lastName}`).waitFor();
      expect(await loadedImage(mine.photo)).toEqual({
        width: PAGE_PICTURE_SIZE,
        src: profile.avatarUrl,
      });
      expect(session.problems).toEqual([]);
    },
  );

  it.for([
    { scale: 2, size: 256, width: 256 },
    // The 512 px thumbnail of a photo 320 px on its shorter side: never enlarged.
    { scale: 3, size: 512, width: 320 },
  ])(
    "on a screen of $scale device pixels a CSS pixel, asks for the $size px thumbnail its 128 px photo needs",
    async ({ scale, size, width }) => {
      const { person, mine, session } = await openAsNewMember("Mary", "Jackson", scale);
      await mine.chooseAndUpload(pngPhoto);
      await mine.status.getByText("Your new photo is set.").waitFor();

      const profile = await api<Profile>(person.token, "GET", `/api/v1/users/me?pictureSize=${size}`);
      expect(await loadedImage(mine.photo)).toEqual({ width, src: profile.avatarUrl });
      const patch = session.requests.find((request) => request.startsWith("PATCH "));
      expect(new URL(patch?.split(" ")[1] ?? "").searchParams.get("pictureSize")).toBe(String(size));
      expect(session.problems).toEqual([]);
    },
  );

  it("answers the cross-origin calls and the presigned PUT through real CORS preflights", async () => {
    const before = requestLog().filter((line) => line.method === "OPTIONS").length;
    const { mine, session } = await openAsNewMember();
    await mine.chooseAndUpload(pngPhoto);
    await mine.status.getByText("Your new photo is set.").waitFor();
    // The worker saw the browser's preflights: the API's (204) and the bucket's (200).
    await expect
      .poll(() =>
        requestLog()
          .filter((line) => line.method === "OPTIONS")
          .slice(before)
          .map((line) => line.status),
      )
      .toEqual(expect.arrayContaining([204, 200]));
    expect(session.problems).toEqual([]);
  });

  it("sends each API call the newest D1 bookmark the API answered, also after a reload", async () => {
    const person = await signUp({ firstName: "Barbara", lastName: "Liskov", org: newOrganization() });
    const session = await browser.open();
    // Every API call the page made: the bookmark it sent, and the one its answer carried.
    const calls: { request: string; sent: string | null; answered: string | null }[] = [];
    session.page.on("response", async (response) => {
      const request = response.request();
      if (!request.url().startsWith(`${stack.apiOrigin}/api/`) || request.method() === "OPTIONS") return;
      calls.push({
        request: `${request.method()} ${new URL(request.url()).pathname}`,
        sent: await request.headerValue("x-d1-bookmark"),
        answered: await response.headerValue("x-d1-bookmark"),
      });
    });
    await session.page.goto(pageUrl(person));
    const mine = photoEditor(session.page, "#my-photo-editor");
    await mine.name.getByText("Barbara Liskov").waitFor();
    await mine.chooseAndUpload(pngPhoto);
    await mine.status.getByText("Your new photo is set.").waitFor();
    await session.page.reload();
    await mine.name.getByText("Barbara Liskov").waitFor();

    await expect.poll(() => calls.length).toBe(5);
    expect(calls.map((call) => call.request.replace(/[0-9a-f-]{36}/, "{id}"))).toEqual([
      "GET /api/v1/users/me",
      "POST /api/v1/uploads",
      "POST /api/v1/uploads/{id}/complete",
      "PATCH /api/v1/users/me/profile-picture",
      "GET /api/v1/users/me",
    ]);
    // The first call had none to send; each later one sent the newest answered before it.
    expect(calls[0]?.sent).toBeNull();
    for (const [i, call] of calls.entries()) {
      const answered = calls.slice(0, i).map((earlier) => earlier.answered ?? "");
      expect(call.answered).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
      if (i > 0) expect(call.sent).toBe(answered.sort().at(-1));
    }
    expect(session.problems).toEqual([]);
  });

  it("keeps the newest bookmark when answers arrive out of order", async () => {
    const session = await browser.open();
    await session.page.goto(`${stack.pageOrigin}/profile`);
    // The page's own module, loaded by the page. A string, so that no bundler rewrites the import.
    await session.page.evaluate(
      'import("/profile/api-client.js").then((module) => { window.apiClient = module; })',
    );
    const sent = await session.page.evaluate(async () => {
      const { createApiClient } = (
        window as unknown as { apiClient: typeof import("../../public/profile/api-client.js") }
      ).apiClient;
      const older = `00000000-00000001-00000000-${"0".repeat(32)}`;
      const newer = `00000000-00000002-00000000-${"0".repeat(32)}`;
      // The first call is answered last, with the older bookmark; the second at once, with the newer.
      const answers = [older, newer, newer];
      let answerFirst = () => {};
      const firstHeld = new Promise<void>((resolve) => {
        answerFirst = resolve;
      });
      const sentBookmarks: (string | null)[] = [];
      window.fetch = async (_input, init) => {
        const call = sentBookmarks.push(new Headers(init?.headers).get("x-d1-bookmark")) - 1;
        if (call === 0) await firstHeld;
        return new Response("{}", { headers: { "x-d1-bookmark": answers[call] ?? "" } });
      };
      const client = createApiClient({ apiOrigin: "", getAccessToken: () => "token" });
      const first = client.getMe();
      await client.getMe();
      answerFirst();
      await first;
      await client.getMe();
      return sentBookmarks;
    });
    expect(sent).toEqual([null, null, `00000000-00000002-00000000-${"0".repeat(32)}`]);
  });

  it("removes the photo and shows their WorkOS picture again, as the service imported it", async () => {
    const { person, mine, session } = await openAsNewMember("Katherine", "Johnson");
    await mine.chooseAndUpload(jpegPhoto);
    await mine.status.getByText("Your new photo is set.").waitFor();

    await mine.remove.click();
    await mine.status.getByText("Your photo is removed.").waitFor();
    expect((await loadedImage(mine.photo)).src).toBe(person.avatarUrl);
    expect(await mine.remove.isHidden()).toBe(true);
    await session.screenshot("profile-photo-removed");
    const profile = await api<Profile>(person.token, "GET", ME_AS_THE_PAGE_ASKS);
    expect(profile).toMatchObject({
      hasCustomProfilePicture: false,
      profilePictureUrl: person.workosPictureUrl,
      avatarSource: "identity_provider",
      avatarUrl: person.avatarUrl,
    });
    // Drawn from the bucket, never hot-linked from the identity provider.
    expect(person.avatarUrl.startsWith(`${stack.storageOrigin}/__s3/`)).toBe(true);
    expect(session.problems).toEqual([]);
  });

  it("shows the failure reason when the bytes are not an image, and keeps the photo it had", async () => {
    const { person, mine, session } = await openAsNewMember();
    await mine.chooseAndUpload(notAnImage);
    await mine.error.getByText(/^The photo was refused: .+/).waitFor();
    const shown = await mine.error.textContent();
    await session.screenshot("profile-photo-not-an-image");

    // The reason is the API's own failureReason for that upload.
    const uploadId = /\/uploads\/([0-9a-f-]{36})\/complete$/.exec(
      session.requests.find((request) => request.endsWith("/complete")) ?? "",
    )?.[1];
    const upload = await api<{ state: string; failureReason: string }>(
      person.token,
      "GET",
      `/api/v1/uploads/${uploadId}`,
    );
    expect(upload.state).toBe("failed");
    expect(shown).toBe(`The photo was refused: ${upload.failureReason}`);
    const profile = await api<Profile>(person.token, "GET", "/api/v1/users/me");
    expect(profile.hasCustomProfilePicture).toBe(false);
    expect((await loadedImage(mine.photo)).src).toBe(person.avatarUrl);
    expect(session.problems).toEqual([]);
  });

  it("refuses a file over 10 MB before any upload", async () => {
    const { person, mine, session } = await openAsNewMember();
    const requestsBefore = session.requests.length;
    await mine.file.setInputFiles(tooLarge);
    await mine.error.getByText('"huge.png" is 10.0 MB; photos may be at most 10 MB.').waitFor();
    expect(await mine.upload.isDisabled()).toBe(true);
    expect(await mine.preview.isHidden()).toBe(true);
    await session.screenshot("profile-photo-too-large");
    // Nothing was asked of the API or the bucket.
    expect(session.requests.slice(requestsBefore)).toEqual([]);
    const profile = await api<Profile>(person.token, "GET", "/api/v1/users/me");
    expect(profile.hasCustomProfilePicture).toBe(false);
    expect(session.problems).toEqual([]);
  });

  it("works with the keyboard alone: choose, upload, remove", async () => {
    const { person, page, mine, session } = await openAsNewMember("Alan", "Turing");
    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toMatch(/^Choose photo/);
    const chooser = await fileChooserOpenedBy(page, () => page.keyboard.press("Space"));
    await chooser.setFiles(pngPhoto);
    await mine.preview.waitFor({ state: "visible" });

    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Upload photo");
    await page.keyboard.press("Enter");
    await mine.status.getByText("Your new photo is set.").waitFor();
    expect((await loadedImage(mine.photo)).width).toBe(PAGE_PICTURE_SIZE);
    await session.screenshot("keyboard-only");

    // The upload button is disabled again; focus went back to "Choose photo", and Tab skips to "Remove photo".
    expect(await focusedControl(page)).toMatch(/^Choose photo/);
    await page.keyboard.press("Tab");
    expect(await focusedControl(page)).toBe("Remove photo");
    await page.keyboard.press("Enter");
    await mine.status.getByText("Your photo is removed.").waitFor();
    expect((await loadedImage(mine.photo)).src).toBe(person.avatarUrl);
    expect(session.problems).toEqual([]);
  });

  it("sends uploadHeaders as given but Content-Length, which the browser sets itself", async () => {
    const { person, page, session } = await openAsNewMember();
    const started = await api<StartedUpload>(person.token, "POST", "/api/v1/uploads", {
      kind: "image",
      scope: "profile_picture",
      contentType: "image/png",
      size: pngPhoto.buffer.byteLength,
    });
    // The write-once headers upload URLs are gaining (R2's conditional PUT, the exact size).
    const uploadHeaders = {
      ...started.uploadHeaders,
      "Content-Length": String(pngPhoto.buffer.byteLength),
      "If-None-Match": "*",
    };
    // The page's own module, loaded by the page. A string, so that no bundler rewrites the import.
    await page.evaluate('import("/profile/api-client.js").then((module) => { window.apiClient = module; })');
    const outcome = await page.evaluate(
      async ({ started, bytes }) => {
        const { putBytes } = (
          window as unknown as { apiClient: typeof import("../../public/profile/api-client.js") }
        ).apiClient;
        const file = new Blob([new Uint8Array(bytes)], { type: "image/png" });
        try {
          await putBytes(started, file, () => {});
          return "stored";
        } catch (error) {
          return String(error);
        }
      },
      { started: { ...started, uploadHeaders }, bytes: [...pngPhoto.buffer] },
    );
    expect(outcome).toBe("stored");
    // Chrome logs "Refused to set unsafe header" for a script-set Content-Length: there was none.
    expect(session.problems).toEqual([]);
  });

  it("runs in a browser that enforces CORS: an origin the API does not allow cannot call it", async () => {
    const person = await signUp({ firstName: "Eve", lastName: "Outsider", org: newOrganization() });
    const session = await browser.open();
    await session.page.goto(`${stack.workosOrigin}/blank`);
    const outcome = await session.page.evaluate(
      async ({ url, token }) => {
        try {
          const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
          return `answered ${response.status}`;
        } catch (error) {
          return String(error);
        }
      },
      { url: `${stack.apiOrigin}/api/v1/users/me`, token: person.token },
    );
    expect(outcome).toBe("TypeError: Failed to fetch");
  });
});
