#!/bin/sh
# Demo stand-in for the QuickBooks consent flow: asks the QuickBooks emulator for tokens of the
# demo realm (its test-control route, as if the user had clicked "Connect") and stores the
# refresh token in the connector's database the way an operator's re-authorisation does
# (connector-sink picks it up and clears the DISCONNECTED state). Runs once per `up`, because
# the emulator keeps its tokens in memory and issues new random ones after each start.
# Needs: QBO_URL, QBO_REALM, QBO_CONNECTION, NOPBRIDGE_SERVICE__DATABASE_URL (the sink's).
set -eu
: "${QBO_URL:?}" "${QBO_REALM:?}" "${QBO_CONNECTION:?}" "${NOPBRIDGE_SERVICE__DATABASE_URL:?}"
body="$(wget -qO- --post-data='' "$QBO_URL/__emulator/realms/$QBO_REALM/tokens")"
token="$(printf '%s' "$body" | sed -n 's/.*"refresh_token" *: *"\([^"]*\)".*/\1/p')"
if [ -z "$token" ]; then
  echo "qbo-consent: no refresh_token in the emulator's answer" >&2
  exit 1
fi
psql "$NOPBRIDGE_SERVICE__DATABASE_URL" -v ON_ERROR_STOP=1 -q \
  -v conn="$QBO_CONNECTION" -v token="$token" <<'SQL'
INSERT INTO sink_oauth_tokens (connection_id, refresh_token) VALUES (:'conn', :'token')
ON CONFLICT (connection_id) DO UPDATE SET refresh_token = EXCLUDED.refresh_token,
    version = sink_oauth_tokens.version + 1, disconnected = false, detail = '',
    updated_at = now();
SQL
echo "qbo-consent: connection $QBO_CONNECTION authorised for realm $QBO_REALM"
