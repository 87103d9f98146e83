import { JobFailure, retryAfterSeconds } from "../lib/job-failure";
import { readStreamLimited } from "../lib/limited-body";
import { isLoopbackHost } from "../lib/loopback-host";
import { IMAGE_TYPES, MAX_PROFILE_PICTURE_BYTES } from "./upload-rules";

/**
 * Why a picture could not be imported. `permanent`: trying again cannot help (a URL we refuse to
 * fetch, a 404, bytes that are not an image, too large); otherwise it is worth another try later
 * (a 5xx, a 429, a timeout, a network error), after `retryAfterSeconds` when the server said so.
 */
export class ImportFailure extends JobFailure {
  constructor(reason: string, permanent: boolean, retryAfterSeconds?: number) {
    super(reason, permanent, retryAfterSeconds);
    this.name = "ImportFailure";
  }
}

const refused = (reason: string) => new ImportFailure(reason, true);
const transient = (reason: string, retryAfterSeconds?: number) =>
  new ImportFailure(reason, false, retryAfterSeconds);

/** The limits of fetching someone's picture from where their identity provider keeps it. */
export interface RemotePicturePolicy {
  /** `http:` to a loopback host as well as `https:`: the local development configuration only. */
  allowLoopbackHttp: boolean;
  timeoutMs: number;
  maxRedirects: number;
  maxBytes: number;
}

export const REMOTE_PICTURE_LIMITS = {
  timeoutMs: 10_000,
  maxRedirects: 3,
  maxBytes: MAX_PROFILE_PICTURE_BYTES,
} as const;

/** An IPv4 or IPv6 literal rather than a name: never where an identity provider keeps pictures. */
const isIpLiteral = (hostname: string) =>
  /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith("[");

/**
 * The URL, if we may fetch it: `https:` only (or `http:` to loopback in development), no
 * credentials, and, outside development, a host name rather than an address or a loopback name, so
 * an identity provider's URL cannot point the worker at anything but a public web server.
 */
export function checkRemoteUrl(value: string, policy: Pick<RemotePicturePolicy, "allowLoopbackHttp">): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refused("The picture URL is not a URL.");
  }
  if (url.username || url.password) throw refused("The picture URL carries credentials.");
  const loopback = isLoopbackHost(url.hostname);
  if (policy.allowLoopbackHttp && loopback && (url.protocol === "http:" || url.protocol === "https:"))
    return url;
  if (url.protocol !== "https:")
    throw refused(`The picture URL is ${url.protocol.replace(":", "")}, not https.`);
  if (loopback || isIpLiteral(url.hostname)) throw refused("The picture URL does not name a public host.");
  return url;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The bytes of the picture at `url`, fetched within `policy`: every hop's URL checked
 * (`checkRemoteUrl`), redirects followed by hand (at most `maxRedirects`, so a loop ends), one time
 * limit over the whole exchange, body included, and the body counted as it streams, refused the
 * moment it passes `maxBytes` (a `Content-Length` over it is refused before a byte is read). No
 * cookie or credential is sent. Throws `ImportFailure`.
 */
export async function fetchRemotePicture(url: string, policy: RemotePicturePolicy): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(policy.timeoutMs);
  try {
    let target = checkRemoteUrl(url, policy);
    for (let redirects = 0; ; redirects++) {
      const request = fetch(target, {
        redirect: "manual",
        signal,
        headers: { accept: IMAGE_TYPES.join(", ") },
      });
      const response = await untilAborted(request, signal);
      const location = response.headers.get("location");
      if (REDIRECTS.has(response.status) && location !== null) {
        await response.body?.cancel();
        if (redirects >= policy.maxRedirects) {
          throw refused(`The picture URL redirects more than ${policy.maxRedirects} times.`);
        }
        target = checkRemoteUrl(new URL(location, target).toString(), policy);
        continue;
      }
      return await untilAborted(readPicture(response, policy.maxBytes), signal);
    }
  } catch (error) {
    if (error instanceof ImportFailure) throw error;
    if (error instanceof Error && (error.name === "TimeoutError" || signal.aborted)) {
      throw transient(`The picture's server did not answer within ${policy.timeoutMs / 1000} s.`);
    }
    throw transient("The picture's server could not be reached.");
  }
}

/**
 * `work`, or the signal's reason once it aborts, whichever comes first: the time limit holds even
 * for a fetch or a read that does not settle when its signal aborts (workerd can leave one hanging).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
    ),
  ]);
}

async function readPicture(response: Response, maxBytes: number): Promise<Uint8Array> {
  const status = response.status;
  if (status !== 200) {
    await response.body?.cancel();
    if (status === 408 || status === 429 || status >= 500) {
      throw transient(
        `The picture's server answered ${status}.`,
        retryAfterSeconds(response.headers.get("retry-after")),
      );
    }
    throw refused(`The picture's server answered ${status}.`);
  }
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel();
    throw refused(`The picture is larger than ${maxBytes} bytes.`);
  }
  if (!response.body) throw refused("The picture's server answered with no body.");
  const bytes = await readStreamLimited(response.body, maxBytes, () =>
    refused(`The picture is larger than ${maxBytes} bytes.`),
  );
  if (bytes.byteLength === 0) throw refused("The picture is empty.");
  return bytes;
}
