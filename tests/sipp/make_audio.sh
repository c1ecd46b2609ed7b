#!/bin/sh
# Regenerate the audio that the SIPp scenarios stream (rtp_stream, payload type 0):
# raw G.711 mu-law, 8 kHz, mono, no header: what SIPp 3.6 and 3.7 read for PT 0
# (160 bytes = one 20 ms packet). Needs Debian's flite and sox.
# Each utterance is followed by 1 s of silence so the agent's end-of-turn detector fires.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() {  # say OUTFILE TEXT
    flite -t "$2" -o "$tmp/speech.wav"
    sox "$tmp/speech.wav" -r 8000 -c 1 -e u-law -b 8 -t raw "$1" pad 0.2 1.0
    size=$(wc -c < "$1")
    # whole 20 ms packets only, so the last packet is not padded with stale bytes
    truncate -s $((size / 160 * 160)) "$1"
}

say caller_ulaw.raw "Hi. I forgot my password and I cannot log in to the help desk."
say agent_ulaw.raw "Hello, this is the support team. I can see your case. How can I help?"
