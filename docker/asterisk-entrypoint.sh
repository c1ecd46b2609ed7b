#!/bin/sh
# Start Asterisk in the foreground. On first start, make a self-signed certificate for
# the TLS transport (pjsip.conf transport-tls) unless one was mounted.
set -eu
keys=/etc/asterisk/keys
if [ ! -s "$keys/asterisk.crt" ] || [ ! -s "$keys/asterisk.key" ]; then
    echo "asterisk-entrypoint: no TLS certificate in $keys, creating a self-signed one" >&2
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=kayako-voice-pbx" \
        -keyout "$keys/asterisk.key" -out "$keys/asterisk.crt" 2>/dev/null
    chmod 0600 "$keys/asterisk.key"
fi
# -f foreground, -n no colours, -vvv verbosity; the console log goes to stdout (logger.conf)
exec /usr/sbin/asterisk -f -n -vvv "$@"
