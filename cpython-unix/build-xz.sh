#!/usr/bin/env bash
# xz: liblzma only, for the _lzma module.
source /scripts/common.sh
./configure "${configure_host_args[@]}" --prefix="${PREFIX}" --disable-shared --enable-static \
    --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
    --disable-scripts --disable-doc --disable-nls
make -j"${JOBS}"
make install DESTDIR="${DESTDIR}"
drop_libtool_archives
rm -rf "${DESTDIR}${PREFIX}/share"
