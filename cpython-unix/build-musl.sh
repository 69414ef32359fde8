#!/usr/bin/env bash
# musl: the C library of a *-linux-musl target. It is built first; every other step of such a
# target compiles and links against the tree it installs, TARGET_SYSROOT (the image's
# target-clang passes it as --sysroot), which holds:
#   usr/include        musl's headers and the Linux kernel's (linux/, asm/, asm-generic/)
#   usr/lib            crt1.o and friends, libc.a, libc.so (libm, libpthread, ... are in libc)
#   lib/ld-musl-ARCH.so.1  the dynamic loader: a link to libc.so, as on an Alpine system
#   usr/lib/gcc/...    the compiler runtime: crtbegin/crtend, libgcc.a and libgcc_eh.a
source /scripts/common.sh
: "${TARGET_SYSROOT:?}"
root="${DESTDIR}${TARGET_SYSROOT}"
arch="${GNU_TRIPLE%%-*}"

stage "kernel headers and compiler runtime"
# Both come from the image's Debian sysroot of the same CPU (/sysroot, a glibc system): the
# kernel headers describe the system-call interface, not glibc, and GCC's runtime objects are
# libc-neutral. Only the static runtime is taken: with no libgcc_s.so in the tree, target-clang
# links libgcc statically (-static-libgcc) and a distribution needs nothing but musl.
mkdir -p "${root}/usr/include" "${root}/lib"
cp -a /sysroot/usr/include/linux /sysroot/usr/include/asm-generic "${root}/usr/include/"
cp -a "/sysroot/usr/include/${arch}-linux-gnu/asm" "${root}/usr/include/asm"
gcc_dirs=(/sysroot/usr/lib/gcc/"${arch}"-linux-gnu/*)
gcc_dir="${root}${gcc_dirs[0]#/sysroot}"
mkdir -p "${gcc_dir}"
for file in crtbegin.o crtbeginS.o crtbeginT.o crtend.o crtendS.o libgcc.a libgcc_eh.a; do
    cp -a "${gcc_dirs[0]}/${file}" "${gcc_dir}/"
done

stage "configure"
# musl compiles itself freestanding (-nostdinc, -nostdlib): the sysroot being filled is not
# read. LIBCC names libgcc.a for the arithmetic helpers libc.so needs from it (aarch64's
# 128-bit long double among them); musl's own probe would not find it in an empty sysroot.
# The target's flags are left out: musl picks its own optimization and keeps the stack protector
# away from the code that sets it up, and a dynamic distribution runs on the system's musl, not
# this one, so a newer -march would only matter to +static builds.
CFLAGS="-ffile-prefix-map=${SRC_DIR}=/${PACKAGE}" \
    ./configure --target="${GNU_TRIPLE}" --prefix="${TARGET_SYSROOT}/usr" \
    --syslibdir="${TARGET_SYSROOT}/lib" LIBCC="${gcc_dir}/libgcc.a" \
    CC="${CC}" AR="${AR}" RANLIB="${RANLIB}"

stage "build"
make -j"${JOBS}"

stage "install"
make install DESTDIR="${DESTDIR}"
# musl installs the loader as an absolute link; a relative one stays right wherever the tree
# is copied (the test systems take it from here).
loader=("${root}"/lib/ld-musl-*.so.1)
ln -sfn ../usr/lib/libc.so "${loader[0]}"
stage
