#!/usr/bin/env bash
# xcbgen: xcb-proto's Python code generator (Debian's python3-xcbgen), installed where
# xcb-proto.pc's pythondir says; libxcb's build runs it with the build image's python3.
# common.sh is not sourced: it unpacks source tarballs, and this is a .deb.
set -euo pipefail
: "${SOURCE:?}" "${PREFIX:?}"
DESTDIR=/out
unpacked=/build/xcbgen
mkdir -p "${unpacked}"
dpkg-deb -x "${SOURCE}" "${unpacked}"
mkdir -p "${DESTDIR}${PREFIX}/lib/python3/dist-packages"
cp -a "${unpacked}/usr/lib/python3/dist-packages/xcbgen" "${DESTDIR}${PREFIX}/lib/python3/dist-packages/"
