import { AwsV4Signer } from "aws4fetch";
import type { Config } from "../../lib/config";
import { amzDate } from "../../lib/presign";
import { S3Error } from "./s3-error";

const ALGORITHM = "AWS4-HMAC-SHA256";
/** R2 accepts presigned URLs valid from 1 second to 7 days. */
const MAX_EXPIRES_SECONDS = 604_800;
/** How far in the future a signing time may lie, as S3 allows for clock skew. */
const CLOCK_SKEW_SECONDS = 15 * 60;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
const REQUIRED = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
] as const;

// Module scope on purpose: derived SigV4 signing keys (one per secret and day) are reused across requests.
const signingKeys = new Map<string, ArrayBuffer>();

const denied = (message: string) => new S3Error(403, "AccessDenied", message);
const malformed = (message: string) => new S3Error(403, "AuthorizationQueryParametersError", message);
const mismatch = () =>
  new S3Error(
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided.",
  );

/**
 * Verify a SigV4 query-signed request the way R2's S3 API does: algorithm, credential (our access
 * key, scope `<date>/auto/s3/aws4_request`), signing time and validity (1 s to 7 days, not passed,
 * not in the future), the signed headers (`host` among them), and the signature itself, recomputed
 * by aws4fetch (the library that signed it) over the same method, URL and headers, and compared in
 * constant time. Returns when the URL stops being valid (epoch seconds); throws `S3Error` otherwise.
 */
export async function verifyPresignedRequest(
  request: Request,
  r2: Config["r2"],
  nowMs: number = Date.now(),
): Promise<{ validUntil: number }> {
  const url = new URL(request.url);
  const params: Partial<Record<(typeof REQUIRED)[number], string>> = {};
  for (const name of REQUIRED) {
    const values = url.searchParams.getAll(name);
    if (values.length !== 1) {
      throw malformed(
        `Query-string authentication requires exactly one of each of ${REQUIRED.join(", ")}; ${name} is missing or repeated.`,
      );
    }
    params[name] = values[0];
  }
  const { "X-Amz-Credential": credential = "", "X-Amz-Date": date = "" } = params;
  if (params["X-Amz-Algorithm"] !== ALGORITHM)
    throw malformed(`X-Amz-Algorithm only supports "${ALGORITHM}".`);

  const [accessKeyId, day, region, service, terminator, ...rest] = credential.split("/");
  if (accessKeyId !== r2.accessKeyId) {
    throw new S3Error(
      403,
      "InvalidAccessKeyId",
      "The access key ID you provided does not exist in our records.",
    );
  }
  const signedAt = parseAmzDate(date);
  if (signedAt === undefined)
    throw malformed("X-Amz-Date must be in the ISO 8601 basic format yyyyMMddTHHmmssZ.");
  if (
    day !== date.slice(0, 8) ||
    region !== "auto" ||
    service !== "s3" ||
    terminator !== "aws4_request" ||
    rest.length
  ) {
    throw malformed(`X-Amz-Credential must have the scope ${date.slice(0, 8)}/auto/s3/aws4_request.`);
  }

  const expires = params["X-Amz-Expires"] ?? "";
  const expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : Number.NaN;
  if (!(expiresSeconds >= 1 && expiresSeconds <= MAX_EXPIRES_SECONDS)) {
    throw malformed(`X-Amz-Expires must be between 1 and ${MAX_EXPIRES_SECONDS} seconds.`);
  }
  const now = Math.floor(nowMs / 1000);
  if (signedAt > now + CLOCK_SKEW_SECONDS) throw denied("Request is not valid yet.");
  const validUntil = signedAt + expiresSeconds;
  if (now > validUntil) throw denied("Request has expired.");

  const signedHeaders = params["X-Amz-SignedHeaders"] ?? "";
  const headerNames = signedHeaders.split(";");
  if (
    !headerNames.includes("host") ||
    headerNames.some((name) => name !== "host" && !request.headers.has(name))
  ) {
    throw malformed("X-Amz-SignedHeaders must include host, and every signed header must be sent.");
  }
  const signature = params["X-Amz-Signature"] ?? "";
  if (!SIGNATURE.test(signature)) throw mismatch();

  // Re-sign the same request (the URL minus its signature, at its own signing time) and compare.
  const unsigned = new URL(url);
  unsigned.searchParams.delete("X-Amz-Signature");
  const headers = new Headers();
  for (const name of headerNames) {
    if (name !== "host") headers.set(name, request.headers.get(name) ?? "");
  }
  const signer = new AwsV4Signer({
    method: request.method,
    url: unsigned.toString(),
    headers,
    accessKeyId: r2.accessKeyId,
    secretAccessKey: r2.secretAccessKey,
    service: "s3",
    region: "auto",
    datetime: date,
    signQuery: true,
    allHeaders: true,
    cache: signingKeys,
  });
  // Headers listed out of order or twice would sign differently than they claim: refuse them.
  if (signer.signedHeaders !== signedHeaders) throw mismatch();
  const encoder = new TextEncoder();
  const expected = encoder.encode(await signer.signature());
  if (!crypto.subtle.timingSafeEqual(expected, encoder.encode(signature))) throw mismatch();
  return { validUntil };
}

/** Epoch seconds of a SigV4 `X-Amz-Date`, or undefined unless it is a real UTC time in basic format. */
function parseAmzDate(value: string): number | undefined {
  const match = AMZ_DATE.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const epoch = Date.UTC(year ?? 0, (month ?? 0) - 1, day, hour, minute, second) / 1000;
  // Round-trip: month 13 or 25 o'clock would normalise into another valid time.
  return amzDate(epoch) === value ? epoch : undefined;
}
