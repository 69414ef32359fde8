#!/usr/bin/env bash
# xorgproto: the X protocol headers and their pkg-config files, from Debian's x11proto-dev
# package (downloads.yml says why a binary package). Nothing is compiled.
# common.sh is not sourced: it unpacks source tarballs, and this is a .deb.
set -euo pipefail
: "${SOURCE:?}" "${PREFIX:?}"
DESTDIR=/out
unpacked=/build/xorgproto
mkdir -p "${unpacked}"
dpkg-deb -x "${SOURCE}" "${unpacked}"
mkdir -p "${DESTDIR}${PREFIX}/include" "${DESTDIR}${PREFIX}/share/pkgconfig"
# Only include/X11: the GL headers (another license) are for OpenGL, which nothing here uses.
cp -a "${unpacked}/usr/include/X11" "${DESTDIR}${PREFIX}/include/"
for pc in "${unpacked}"/usr/share/pkgconfig/*.pc; do
    sed "s#^prefix=/usr\$#prefix=${PREFIX}#" "${pc}" \
        > "${DESTDIR}${PREFIX}/share/pkgconfig/${pc##*/}"
done
if grep -l '/usr' "${DESTDIR}${PREFIX}"/share/pkgconfig/*.pc; then
    echo "xorgproto: the .pc files above still name /usr; the package's layout changed" >&2
    exit 1
fi
