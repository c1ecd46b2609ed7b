# syntax=docker/dockerfile:1
# Asterisk 22 (LTS) built from the official source tarball, for kayako-voice.
#
#   docker build -f docker/asterisk.Dockerfile -t kayako-voice/asterisk:22 docker
#
# Stage 1 compiles Asterisk with the bundled pjproject and jansson and installs it into
# /staging; stage 2 is a slim Debian with only the runtime libraries. Configs are not
# baked in: compose.yaml mounts asterisk-config/*.conf over /etc/asterisk.
#
# Pin the release you tested. The tarball is checked against the .sha256 published next
# to it; set ASTERISK_SHA256 to pin the checksum itself (stronger: it does not trust
# the download server twice).

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- build stage
FROM ${DEBIAN_IMAGE} AS build
ARG ASTERISK_VERSION=22.10.1
ARG ASTERISK_SHA256=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential ca-certificates curl bzip2 patch pkg-config autoconf \
      libedit-dev libxml2-dev libsqlite3-dev uuid-dev libssl-dev libsrtp2-dev \
      libcurl4-openssl-dev libspeexdsp-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /usr/src
RUN set -eu; \
    base="https://downloads.asterisk.org/pub/telephony/asterisk/releases"; \
    tarball="asterisk-${ASTERISK_VERSION}.tar.gz"; \
    curl -fsSLO "${base}/${tarball}"; \
    curl -fsSLO "${base}/${tarball}.sha256"; \
    sha256sum -c "${tarball}.sha256"; \
    if [ -n "${ASTERISK_SHA256}" ]; then echo "${ASTERISK_SHA256}  ${tarball}" | sha256sum -c -; fi; \
    tar xzf "${tarball}"; \
    mv "asterisk-${ASTERISK_VERSION}" asterisk
WORKDIR /usr/src/asterisk
# Bundled pjproject/jansson: the versions Asterisk is tested with (configure downloads
# the pjproject tarball, so this stage needs network access).
RUN ./configure --with-pjproject-bundled --with-jansson-bundled \
 && make menuselect.makeopts \
 && menuselect/menuselect \
      --disable BUILD_NATIVE \
      --disable chan_iax2 --disable chan_unistim --disable chan_motif --disable chan_console \
      --disable-category MENUSELECT_CORE_SOUNDS --disable-category MENUSELECT_MOH \
      --disable-category MENUSELECT_EXTRA_SOUNDS \
      --enable CORE-SOUNDS-EN-WAV \
      --disable res_hep --disable res_hep_pjsip --disable res_hep_rtcp \
      menuselect.makeopts \
 && make -j"$(nproc)" \
 && make install DESTDIR=/staging \
 && rm -rf /staging/usr/include

# ---------------------------------------------------------------- runtime stage
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libedit2 libxml2 libsqlite3-0 libuuid1 libssl3 libsrtp2-1 libcurl4 libspeexdsp1 \
      openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system asterisk \
 && useradd --system --gid asterisk --home-dir /var/lib/asterisk --shell /usr/sbin/nologin asterisk
COPY --from=build /staging/ /
COPY asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint.sh
RUN ldconfig \
 && mkdir -p /etc/asterisk/keys /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk \
 && chown -R asterisk:asterisk /etc/asterisk/keys /var/lib/asterisk /var/log/asterisk \
      /var/spool/asterisk /var/run/asterisk \
 && chmod 0755 /usr/local/bin/asterisk-entrypoint.sh

# SIP (pjsip.conf transports) and RTP (rtp.conf rtpstart..rtpend). ARI (http.conf) stays
# on 127.0.0.1:8088 and is not exposed.
EXPOSE 5060/udp 5061/tcp
EXPOSE 10000-10599/udp

USER asterisk
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]
