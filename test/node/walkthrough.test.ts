import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { AwsClient } from "aws4fetch";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { devToken } from "../../scripts/dev-keys.mjs";
import { disposeDevServers, freePort, ROOT, startDev, userEnv } from "./helpers/dev-server";

const run = promisify(execFile);
const walkthrough = (args: string[], env: NodeJS.ProcessEnv = userEnv()) =>
  run("npm", ["run", "-s", "walkthrough", "--", ...args], { cwd: ROOT, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

afterEach(disposeDevServers);

describe("npm run walkthrough (scripts/walkthrough.sh)", { timeout: 180_000 }, () => {
  it("puts the demo photo through the API as the README shows: set, then removed", async () => {
    const server = await startDev();
    const curl = watchCurl();
    const { code, stdout, stderr } = await walkthrough(
      ["--api", server.api, "--persist-to", server.persistTo],
      curl.env,
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const uploadId = /^Done: upload ([0-9a-f-]{36}) was set, then removed/m.exec(stdout)?.[1];
    expect(uploadId, stdout).toBeDefined();

    // Each API call sent the bookmark the answer before it carried (the first had none); storage got none.
    const answered = [...stdout.matchAll(/^x-d1-bookmark: (\S+)$/gm)].map((match) => match[1]);
    expect(answered).toHaveLength(4);
    for (const bookmark of answered) expect(bookmark).toMatch(/^[0-9a-f]{8}(-[0-9a-f]{8}){2}-[0-9a-f]{32}$/);
    const apiCalls = curl.invocations().filter((args) => args.some((arg) => arg.includes("/api/v1/")));
    expect(apiCalls.map(sentBookmark)).toEqual([null, ...answered.slice(0, -1)]);
    const put = curl.invocations().find((args) => args.includes("--upload-file"));
    expect(put && sentBookmark(put)).toBeNull();

    // Read back through the API: the upload is ready, and the profile has no custom photo again.
    const auth = { Authorization: `Bearer ${await devToken({ dir: server.persistTo })}` };
    const upload = await (await fetch(`${server.api}/api/v1/uploads/${uploadId}`, { headers: auth })).json();
    expect(upload).toMatchObject({ state: "ready", size: readFileSync(demoPhoto).byteLength });
    const me = await (await fetch(`${server.api}/api/v1/users/me`, { headers: auth })).json();
    expect(me).toMatchObject({ hasCustomProfilePicture: false, profilePictureUrl: null });

    // The stored object is the photo, labelled with the Content-Type the API told the client to send.
    const original = await fetch(
      await presignGet(server.persistTo, `${server.api}/__s3/profile-pictures/uploads/${uploadId}/original`),
    );
    expect(original.status).toBe(200);
    expect(original.headers.get("Content-Type")).toBe("image/jpeg");
    expect(Buffer.from(await original.arrayBuffer()).equals(readFileSync(demoPhoto))).toBe(true);
  });

  it("says in one line that nothing answers when the API is not running", async () => {
    const { code, stdout, stderr } = await walkthrough(["--api", `http://localhost:${await freePort()}`]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/nothing healthy answers .* npm run dev/),
    ]);
  });
});

const demoPhoto = path.join(ROOT, "scripts/assets/demo-photo.jpg");

/**
 * The real curl, with each invocation's arguments noted on the way (a `curl` first on PATH that
 * writes them down, then runs the one the machine has): what the script sent, not what it printed.
 */
function watchCurl(): { env: NodeJS.ProcessEnv; invocations: () => string[][] } {
  const dir = mkdtempSync(path.join(tmpdir(), "walkthrough-curl-"));
  const log = path.join(dir, "invocations");
  const realCurl = execFileSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
  writeFileSync(
    path.join(dir, "curl"),
    `#!/bin/sh\nfor arg in "$@"; do printf '%s\\n' "$arg"; done >> '${log}'\nprintf -- '--end--\\n' >> '${log}'\nexec '${realCurl}' "$@"\n`,
    { mode: 0o755 },
  );
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return {
    env: { ...userEnv(), PATH: `${dir}:${process.env.PATH}` },
    invocations: () =>
      readFileSync(log, "utf8")
        .split("--end--\n")
        .filter(Boolean)
        .map((lines) => lines.replace(/\n$/, "").split("\n")),
  };
}

/** The bookmark a curl invocation sent (`-H 'x-d1-bookmark: …'`), or null. */
function sentBookmark(args: string[]): string | null {
  const header = args.find((arg, i) => args[i - 1] === "-H" && /^x-d1-bookmark:/i.test(arg));
  return header ? header.replace(/^x-d1-bookmark:\s*/i, "") : null;
}

/** A presigned GET with the R2 keys `npm run dev` wrote into the dev vars of that state dir. */
async function presignGet(persistTo: string, url: string): Promise<string> {
  const vars = Object.fromEntries(
    readFileSync(path.join(persistTo, "dev.vars"), "utf8")
      .split("\n")
      .map((line) => /^(\w+)='(.*)'$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2]]),
  );
  const signer = new AwsClient({
    accessKeyId: vars.R2_ACCESS_KEY_ID ?? "",
    secretAccessKey: vars.R2_SECRET_ACCESS_KEY ?? "",
    service: "s3",
    region: "auto",
  });
  const signed = await signer.sign(`${url}?X-Amz-Expires=60`, { method: "GET", aws: { signQuery: true } });
  return signed.url;
}
