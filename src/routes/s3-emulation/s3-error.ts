/** A refusal in S3's terms: the status, S3's error code and a message for the XML body. */
export class S3Error extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 411 | 412 | 416,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "S3Error";
  }
}

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);

/**
 * S3's error body, as R2's S3 API answers it. Unlike S3 it never echoes the string to sign or the
 * signature: those stay out of responses and logs.
 */
export function s3ErrorResponse(error: S3Error, resource: string, requestId: string): Response {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${escapeXml(requestId)}</RequestId></Error>`;
  return new Response(body, {
    status: error.status,
    headers: { "Content-Type": "application/xml", ...error.headers },
  });
}
