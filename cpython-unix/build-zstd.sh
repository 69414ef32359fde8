#!/usr/bin/env bash
# zstd: static libzstd for the _zstd module (Python 3.14+).
source /scripts/common.sh
make -C lib -j"${JOBS}" libzstd.a-mt CC="${CC}" AR="${AR}" CFLAGS="${CFLAGS}"
make -C lib install-static install-includes install-pc PREFIX="${PREFIX}" LIBDIR="${PREFIX}/lib" \
    DESTDIR="${DESTDIR}"
