/**
 * The benchmark's stand-in for drawing initials avatars (initials.mjs), run by `wrangler dev`: the
 * service's own code (src/pictures/initials/) in a loop, so the workerd process's CPU over one request
 * is the CPU of `count` images, or of `count` calls of initialsOf.
 *
 * POST /render?initials=WM&size=256&count=N: draws the image N times, answers its bytes' length.
 * POST /initials-of?count=N: initialsOf over a mix of users, N times.
 */
import { initialsOf, renderInitials } from "../../src/pictures/initials";

/** Names as they come: Latin, accented, decomposed, Cyrillic, Hebrew, Arabic, CJK, none (the email). */
const USERS = [
  { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
  { firstName: "émile", lastName: "Zola", email: "emile@example.com" },
  { firstName: "E\u0301lodie", lastName: "(Roy)", email: "elodie@example.com" },
  { firstName: "Дмитрий", lastName: "Шостакович", email: "dmitri@example.com" },
  { firstName: "דוד", lastName: "לוי", email: "david@example.com" },
  { firstName: "محمد", lastName: "علي", email: "mohammed@example.com" },
  { firstName: "伟", lastName: "李", email: "li.wei@example.com" },
  { firstName: "", lastName: "", email: "jane.doe@example.com" },
];

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const count = Number(url.searchParams.get("count") ?? "1");
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/render" && request.method === "POST") {
      const initials = url.searchParams.get("initials") ?? "";
      const size = Number(url.searchParams.get("size"));
      let bytes = 0;
      for (let i = 0; i < count; i++) bytes = (await renderInitials(initials, 0, size)).length;
      return Response.json({ bytes });
    }
    if (url.pathname === "/initials-of" && request.method === "POST") {
      let letters = 0;
      for (let i = 0; i < count; i++) {
        const user = USERS[i % USERS.length];
        if (user) letters += initialsOf(user).length;
      }
      return Response.json({ letters });
    }
    return new Response("no route", { status: 404 });
  },
};
