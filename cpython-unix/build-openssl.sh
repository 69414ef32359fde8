#!/usr/bin/env bash
# OpenSSL 3: static libssl/libcrypto without shared libraries or the legacy provider.
# The configuration directory is /etc/ssl, where most Linux systems keep their CA certificates.
source /scripts/common.sh
case "${GNU_TRIPLE}" in
    x86_64-linux-gnu | x86_64-linux-musl) os_target=linux-x86_64 ;;
    aarch64-linux-gnu | aarch64-linux-musl) os_target=linux-aarch64 ;;
    armv7-linux-gnueabihf) os_target=linux-armv4 ;;
    i686-linux-gnu) os_target=linux-x86-clang ;;
    powerpc64le-linux-gnu) os_target=linux-ppc64le ;;
    s390x-linux-gnu) os_target=linux64-s390x ;;
    riscv64-linux-gnu) os_target=linux64-riscv64 ;;
    *) echo "no OpenSSL configuration for ${GNU_TRIPLE}" >&2; exit 1 ;;
esac
# OpenSSL's Configure reads CFLAGS itself; keep the optimization it chooses for assembly.
./Configure "${os_target}" --prefix="${PREFIX}" --libdir=lib --openssldir=/etc/ssl \
    no-shared no-legacy no-tests no-docs no-apps -fPIC ${TARGET_CFLAGS:-} \
    -ffile-prefix-map="${SRC_DIR}=/${PACKAGE}"
make -j"${JOBS}" build_libs
make install_dev DESTDIR="${DESTDIR}"
