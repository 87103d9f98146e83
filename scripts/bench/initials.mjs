// Initials avatars (src/pictures/initials/): the worker CPU of drawing one, at each picture size, with
// one letter, two and the symbol; and of initialsOf, which every profile read without a photo will run
// to name its image. Measured in a stand-in worker running the service's own code (initials-worker.ts)
// on wrangler dev's workerd, as utime+stime of the workerd process over a request that draws many
// images. Reported, not a target: images are drawn once per initials, colour and size, and stored.
import path from "node:path";
import { THUMB_SIZES } from "../../src/lib/object-keys.ts";
import { CLK_TCK, workerdTicks } from "./cpu.mjs";
import { request } from "./load.mjs";
import { fmt } from "./options.mjs";
import { ok } from "./upload-flows.mjs";
import { standInConfig, startWorker, stopWorker, tmp } from "./workers.mjs";

const SIZES = THUMB_SIZES;
const MONOGRAMS = [
  { key: "one", name: "one letter (`A`)", initials: "A" },
  { key: "two", name: "two letters (`WM`, the widest)", initials: "WM" },
  { key: "symbol", name: "the symbol (no letter)", initials: "" },
];
/** Images per timed request, about a second of CPU each, so the 10 ms clock tick is about 1% of it. */
const IMAGES_PER_RUN = { 64: 2000, 128: 1200, 256: 500, 512: 200 };
const INITIALS_OF_CALLS = 200_000;

/** The worker's CPU ms per call of one POST that makes `count` of them, and its answer. */
async function cpuPerCall(worker, route, count) {
  const before = workerdTicks(worker).worker;
  const response = ok(await request(worker.port, { method: "POST", path: `${route}&count=${count}` }), route);
  const ms = ((workerdTicks(worker).worker - before) / CLK_TCK) * 1000;
  return { ms: ms / count, answer: JSON.parse(response.body) };
}

/** CPU per image for every size and monogram, and per initialsOf call, in a fresh stand-in. */
export async function measureInitials(jwksPort) {
  const worker = await startWorker("initials", path.join(tmp, "state-initials"), jwksPort, [
    "--config",
    standInConfig("initials"),
  ]);
  try {
    const images = [];
    for (const size of SIZES) {
      for (const monogram of MONOGRAMS) {
        const route = `/render?initials=${encodeURIComponent(monogram.initials)}&size=${size}`;
        await cpuPerCall(worker, route, 20);
        const { ms, answer } = await cpuPerCall(worker, route, IMAGES_PER_RUN[size]);
        images.push({ size, key: monogram.key, ms, bytes: answer.bytes });
      }
    }
    await cpuPerCall(worker, "/initials-of?", 10_000);
    const initialsOf = await cpuPerCall(worker, "/initials-of?", INITIALS_OF_CALLS);
    return { images, initialsOfMicroseconds: initialsOf.ms * 1000 };
  } finally {
    await stopWorker(worker);
  }
}

/** The report's section: CPU ms and PNG bytes per image, by size and monogram, and initialsOf's µs. */
export function initialsReport({ images, initialsOfMicroseconds }) {
  const cell = (size, key) => {
    const image = images.find((i) => i.size === size && i.key === key);
    return `${fmt(image.ms, 2)} ms, ${image.bytes} B`;
  };
  return [
    "### Initials avatars: CPU per image",
    "",
    "Not a target: drawn once per initials, colour and size, then stored and served as a file. Worker CPU " +
      "(utime+stime of the workerd process) of `renderInitials` in a stand-in worker (`scripts/bench/initials-worker.ts`), " +
      `over one request drawing ${Object.values(IMAGES_PER_RUN).join(", ")} images at 64, 128, 256 and 512 px after 20 ` +
      "to warm up; with the PNG's size:",
    "",
    `| monogram | ${SIZES.map((size) => `${size} px`).join(" | ")} |`,
    `| --- | ${SIZES.map(() => "---:").join(" | ")} |`,
    ...MONOGRAMS.map(({ key, name }) => `| ${name} | ${SIZES.map((size) => cell(size, key)).join(" | ")} |`),
    "",
    `\`initialsOf\`, which names a profile's image on every read without a photo: **${fmt(initialsOfMicroseconds, 1)} µs** ` +
      `a user (${INITIALS_OF_CALLS.toLocaleString("en-US")} calls over a mix of scripts, the email fallback and a CJK name).`,
  ];
}
