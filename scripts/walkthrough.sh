#!/usr/bin/env bash
# `npm run walkthrough`: the README's curl walk-through, runnable as is. A photo file becomes the
# profile picture through nothing but the HTTP API and its presigned URL, then is removed again.
# Needs curl and Node (for JSON, so no jq); `--help` for the options.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
API=http://localhost:8787
PHOTO="$ROOT/scripts/assets/demo-photo.jpg"
PERSIST_TO=
TOKEN=

usage() {
  cat <<EOF
Usage: npm run walkthrough -- [options]   (or scripts/walkthrough.sh [options])

Puts a photo through the API with curl, as the README shows: start the upload, PUT the bytes to the
presigned URL with exactly the headers the API lists, complete it, set it as the profile picture,
and remove it again. Against \`npm run dev\` it needs nothing else.

Options:
  --api URL         the API (default: $API, where npm run dev serves it)
  --photo FILE      a JPEG, PNG, WebP or GIF up to 10 MiB (default: scripts/assets/demo-photo.jpg)
  --token TOKEN     the bearer token (default: a demo-user token from npm run dev:token)
  --persist-to DIR  the dir given to \`npm run dev -- --persist-to\`, for its dev key
  -h, --help        show this help
EOF
}

refuse() {
  echo "walkthrough: $1 (see npm run walkthrough -- --help)" >&2
  exit 2
}
fail() {
  echo "walkthrough: $1" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage && exit 0 ;;
    --api | --photo | --token | --persist-to)
      [ $# -ge 2 ] && [ -n "$2" ] || refuse "$1 takes a value"
      case "$1" in
        --api) API=${2%/} ;;
        --photo) PHOTO=$2 ;;
        --token) TOKEN=$2 ;;
        --persist-to) PERSIST_TO=$2 ;;
      esac
      shift 2
      ;;
    --api=* | --photo=* | --token=* | --persist-to=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    *) refuse "unknown option '$1'" ;;
  esac
done

# npm runs scripts from the project's root; a relative --photo means where the user typed it.
case "$PHOTO" in /*) ;; *) PHOTO="${INIT_CWD:-$PWD}/$PHOTO" ;; esac

command -v curl >/dev/null || fail "needs curl, which is not installed"
command -v node >/dev/null || fail "needs Node (for JSON), which is not on PATH: run it as npm run walkthrough"
[ -f "$PHOTO" ] || refuse "no such file: $PHOTO"
case "$(printf '%s' "$PHOTO" | tr '[:upper:]' '[:lower:]')" in
  *.jpg | *.jpeg) CONTENT_TYPE=image/jpeg ;;
  *.png) CONTENT_TYPE=image/png ;;
  *.webp) CONTENT_TYPE=image/webp ;;
  *.gif) CONTENT_TYPE=image/gif ;;
  *) refuse "--photo must end in .jpg, .jpeg, .png, .webp or .gif: $PHOTO" ;;
esac

curl -sf -o /dev/null "$API/healthz" ||
  fail "nothing healthy answers at $API/healthz: start the API with npm run dev (or pass --api)"
if [ -z "$TOKEN" ]; then
  TOKEN=$(cd "$ROOT" && npm run -s dev:token -- ${PERSIST_TO:+--persist-to "$PERSIST_TO"}) || exit 1
fi

BODY=$(mktemp)
HEADERS=$(mktemp)
trap 'rm -f "$BODY" "$HEADERS"' EXIT

# json PATH: a field of the last response body (dots between keys); strings bare, the rest as JSON.
json() {
  node -e '
    let value = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const key of process.argv[2].split(".")) value = value?.[key];
    console.log(typeof value === "string" ? value : JSON.stringify(value));
  ' "$BODY" "$1"
}

# call STEP EXPECTED_STATUS CURL_ARGS...: one request; prints the status and body, stops on a surprise.
call() {
  local step=$1 expected=$2 status
  shift 2
  status=$(curl -sS -o "$BODY" -w '%{http_code}' "$@") || fail "$step: curl failed"
  echo "$status $(cat "$BODY")"
  [ "$status" = "$expected" ] || fail "$step: expected $expected, got $status"
}

# api STEP EXPECTED_STATUS CURL_ARGS...: `call` to the API with the token and the newest x-d1-bookmark it
# answered, so each step reads at least what the one before it wrote, whichever database replica answers.
BOOKMARK=
api() {
  local step=$1 expected=$2 answered
  shift 2
  local sent=(-H "Authorization: Bearer $TOKEN")
  [ -z "$BOOKMARK" ] || sent+=(-H "x-d1-bookmark: $BOOKMARK")
  call "$step" "$expected" -D "$HEADERS" "${sent[@]}" "$@"
  answered=$(tr -d '\r' <"$HEADERS" | sed -n 's/^x-d1-bookmark: *//Ip' | tail -n 1)
  # Bookmarks sort oldest to newest as strings.
  if [ -n "$answered" ] && [[ "$answered" > "$BOOKMARK" ]]; then BOOKMARK=$answered; fi
  echo "x-d1-bookmark: ${answered:-(none)}"
}

SIZE=$(wc -c <"$PHOTO" | tr -d ' ')
FILENAME=$(basename "$PHOTO")

echo "== 1. Start the upload: the pending upload, a presigned PUT URL and the headers to send"
api "start the upload" 201 -X POST "$API/api/v1/uploads" -H 'Content-Type: application/json' \
  -d "{\"kind\":\"image\",\"scope\":\"profile_picture\",\"contentType\":\"$CONTENT_TYPE\",\"size\":$SIZE,\"filename\":\"$FILENAME\"}"
UPLOAD_ID=$(json upload.id)
UPLOAD_URL=$(json uploadUrl)
UPLOAD_METHOD=$(json uploadMethod)
# Exactly the headers the API listed (they are signed): one `-H 'Name: value'` each.
UPLOAD_HEADERS=()
LISTED=
while IFS= read -r header; do
  UPLOAD_HEADERS+=(-H "$header")
  LISTED+="${LISTED:+, }$header"
done < <(
  node -e '
    const { uploadHeaders } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const [name, value] of Object.entries(uploadHeaders)) console.log(`${name}: ${value}`);
  ' "$BODY"
)

echo
echo "== 2. $UPLOAD_METHOD the bytes to the presigned URL with the headers listed: $LISTED"
# --upload-file adds no Content-Type of curl's own; -H 'Expect:' keeps it from adding one to a large body.
call "upload the bytes" 200 --upload-file "$PHOTO" -X "$UPLOAD_METHOD" "$UPLOAD_URL" "${UPLOAD_HEADERS[@]}" \
  -H 'Expect:'

echo
echo "== 3. Complete: the service checks the bytes, writes the thumbnail, marks the upload ready"
api "complete the upload" 200 -X POST "$API/api/v1/uploads/$UPLOAD_ID/complete"
[ "$(json state)" = ready ] || fail "the upload is $(json state): $(json failureReason)"

echo
echo "== 4. Set it as the profile picture: the answer is the profile, profilePictureUrl presigned"
api "set the profile picture" 200 -X PATCH "$API/api/v1/users/me/profile-picture" \
  -H 'Content-Type: application/json' -d "{\"uploadId\":\"$UPLOAD_ID\"}"

echo
echo "== 5. Remove it again (doing it twice is a harmless 200)"
api "remove the profile picture" 200 -X PATCH "$API/api/v1/users/me/profile-picture" \
  -H 'Content-Type: application/json' -d '{"uploadId": null}'
echo
echo "Done: upload $UPLOAD_ID was set, then removed. Without a custom photo, profilePictureUrl is the"
echo "picture WorkOS has for the user, if any: here $(json profilePictureUrl)."
