#!/bin/sh
# A warroom hook: post a recorded status update (or a new incident) to a chat webhook
# (Slack/Mattermost/Rocket.Chat "incoming webhook" style: {"text": ...}).
#
# In ~/.config/warroom/config.ron:
#   hooks: [(name: "chat", on: [Declared, StatusUpdate, DeadlineOverdue], command: ["/path/to/chat-status.sh"], timeout_secs: Some(10))]
# and put the webhook URL in ~/.config/warroom/chat-webhook-url (readable only by you).
#
# warroom hands the event over as JSON on stdin (already sanitised); WARROOM_HOOK names the
# trigger and WARROOM_INCIDENT the incident. A non-zero exit is logged and shown as a problem.
set -eu
url_file="${WARROOM_CHAT_URL_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/warroom/chat-webhook-url}"
url=$(cat "$url_file")
event=$(cat)
# jq builds the message so nothing in the event can break out of the JSON.
message=$(printf '%s' "$event" | jq -c '{text: (
    if .hook == "StatusUpdate" then "[\(.incident)] status (\(.event.body.audience)): \(.text)"
    elif .hook == "Declared" then "[\(.incident)] declared SEV\(.event.body.severity): \(.title)"
    elif .hook == "DeadlineAmber" or .hook == "DeadlineOverdue" then
      "[\(.incident)] deadline \(.level | ascii_upcase)\(if .late then " (late notice)" else "" end): \(.name) (\(.source)) due \(.due)"
    else "[\(.incident)] \(.hook): \(.title)" end)}')
curl --fail --silent --show-error --max-time 8 \
    -H 'Content-Type: application/json' --data "$message" "$url" >/dev/null
