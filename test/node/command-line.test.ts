import { execFile } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT, userEnv } from "./helpers/dev-server";

const run = promisify(execFile);
/** `npm run -s <script> -- <args>` as a user types it: exit code, stdout, stderr. */
const npmRun = (script: string, args: string[]) =>
  run("npm", ["run", "-s", script, "--", ...args], { cwd: ROOT, env: userEnv() }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

// Every script a user runs, with its options as --help must list them.
const SCRIPTS = {
  dev: ["--port", "--inspector-port", "--workos-port", "--persist-to"],
  "dev:token": ["--sub", "--org", "--role", "--ttl", "--persist-to"],
  bench: ["--write", "--rounds"],
  walkthrough: ["--api", "--photo", "--token", "--persist-to"],
  "r2:cors": ["--print", "--config"],
  "check:production": ["--config"],
  "audit:schemas": ["--print", "--config", "--workos-api-url"],
  "initials:glyphs": [],
};

describe("the scripts a user runs", { timeout: 60_000, concurrent: true }, () => {
  it.each(Object.entries(SCRIPTS))(
    "npm run %s -- --help lists its options and exits 0",
    async (script, flags) => {
      const { code, stdout, stderr } = await npmRun(script, ["--help"]);
      expect(code).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/^Usage: npm run /);
      for (const flag of [...flags, "--help"])
        expect(stdout).toMatch(new RegExp(`^ +(-h, )?${flag}\\b`, "m"));
    },
  );

  it.each([
    ["dev", ["--bogus"], /Unknown option '--bogus'/],
    ["dev", ["--port", "abc"], /--port takes a whole number from 1 to 65535, not 'abc'/],
    ["dev", ["--port", "70000"], /--port takes a whole number/],
    ["dev", ["--persist-to"], /'--persist-to <value>' argument missing/],
    ["dev", ["stray"], /Unexpected argument 'stray'/],
    ["dev:token", ["--ttl", "abc"], /--ttl takes a whole number from 1 to 2592000, not 'abc'/],
    ["dev:token", ["--ttl", "-5"], /--ttl/],
    ["dev:token", ["--sub", ""], /--sub takes a non-empty value/],
    [
      "dev:token",
      ["--persist-to", "/nonexistent"],
      /no dev key in \/nonexistent: start `npm run dev -- --persist-to/,
    ],
    ["dev:token", ["--bogus"], /Unknown option '--bogus'/],
    ["bench", ["--rounds", "abc"], /--rounds takes a whole number from 1 to 1000, not 'abc'/],
    ["bench", ["--write=yes"], /'--write' does not take an argument/],
    ["bench", ["--bogus"], /Unknown option '--bogus'/],
    ["walkthrough", ["--bogus"], /unknown option '--bogus'/],
    ["walkthrough", ["--api"], /--api takes a value/],
    ["walkthrough", ["--photo", "package.json"], /--photo must end in .jpg, .jpeg, .png, .webp or .gif/],
    ["walkthrough", ["--photo", "no-such-photo.jpg"], /no such file: .*no-such-photo.jpg/],
    [
      "r2:cors",
      ["--config", "/nonexistent/wrangler.toml"],
      /--config: no such file: \/nonexistent\/wrangler.toml/,
    ],
    ["r2:cors", ["--print=yes"], /'--print' does not take an argument/],
    ["check:production", ["--config", "/nonexistent/wrangler.toml"], /--config: no such file/],
    ["check:production", ["--bogus"], /Unknown option '--bogus'/],
    ["audit:schemas", ["--config", "/nonexistent/wrangler.toml"], /--config: no such file/],
    [
      "audit:schemas",
      ["--workos-api-url", "http://workos.example.com"],
      /--workos-api-url takes an https URL, or an http one on a loopback host, without query or fragment, not 'http:\/\/workos.example.com'/,
    ],
    ["audit:schemas", ["--workos-api-url", "https://workos.example.com/?x=1"], /without query or fragment/],
    ["audit:schemas", ["--workos-api-url", "workos"], /--workos-api-url takes a URL, not 'workos'/],
    ["initials:glyphs", ["--bogus"], /Unknown option '--bogus'/],
  ] as const)("npm run %s -- %j is refused in one line with exit code 2", async (script, args, message) => {
    const { code, stdout, stderr } = await npmRun(script, [...args]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const lines = stderr.trimEnd().split("\n");
    expect(lines).toEqual([expect.stringMatching(message)]);
    expect(lines[0]).toMatch(new RegExp(`^${script}: .*\\(see npm run ${script} -- --help\\)$`));
  });

  it("npm run dev says which port is taken, in one line, before starting anything", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const { code, stderr } = await npmRun("dev", [
        "--port",
        String(port),
        "--persist-to",
        "/nonexistent-state",
      ]);
      expect(code).toBe(1);
      expect(stderr.trimEnd().split("\n")).toEqual([
        expect.stringContaining(
          `port ${port} is in use (another \`npm run dev\`?): pick another with --port`,
        ),
      ]);
    } finally {
      taken.close();
    }
  });
});
