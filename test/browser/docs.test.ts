import { describe, expect, it } from "vitest";
import { browserForThisFile } from "./browser";
import { stack } from "./people";

const browser = browserForThisFile();

describe("/docs", () => {
  it("renders the API reference with every request to the worker's own origin", async () => {
    const session = await browser.open();
    const { page } = session;
    await page.goto(`${stack.apiOrigin}/docs`);
    await page.getByRole("heading", { name: /Profile-picture API/ }).waitFor();
    const operation = page.locator(".opblock-summary-path", {
      hasText: "/api/v1/shared/users/{user_id}/profile-picture",
    });
    await operation.first().waitFor();
    expect(await operation.first().isVisible()).toBe(true);
    await session.screenshot("docs");

    const networked = session.requests.filter((request) => /^[A-Z]+ https?:/.test(request));
    expect(networked).toContain(`GET ${stack.apiOrigin}/openapi.json`);
    for (const request of networked) expect(request).toMatch(new RegExp(`^[A-Z]+ ${stack.apiOrigin}/`));
    expect(session.problems).toEqual([]);
  });
});
