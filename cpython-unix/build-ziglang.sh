#!/usr/bin/env bash
# ziglang: not a compiler for us but glibc's interface at an older version. A glibc target whose
# targets.yml glibc_floor is older than its Debian sysroot's glibc builds this first; every other
# step compiles and links against the tree it installs, TARGET_SYSROOT (the image's target-clang
# passes it as --sysroot), so that no binary can bind a symbol newer than GLIBC_FLOOR:
#   usr/include        glibc's headers as zig ships them, __GLIBC_MINOR__ fixed to the floor (zig
#                      guards what later versions added with it), and the Linux kernel's
#   lib/<multiarch>    link stubs of libc, libm, libpthread, ... and the loader, which export
#                      exactly what that glibc version exported, with its symbol versions (zig
#                      makes them from the per-version symbol lists it ships)
#   usr/lib/<multiarch> the start files (crt1.o, Scrt1.o) and libc_nonshared.a of that glibc
#                      version, which zig compiles from the glibc sources it ships, and the
#                      Debian sysroot's crti.o, crtn.o and libc.so linker script
#   usr/lib/gcc/...    and the Debian sysroot's GCC runtime (its shared library as a stub)
# The stubs have no code: they are for the linker only, and never run or ship. The start files
# and libc_nonshared.a do ship (linked into every program): they must be the floor's, not the
# sysroot's glibc's, whose newer crt1.o hands __libc_start_main no constructor runner (glibc
# 2.34 moved it into libc.so) and whose libc_nonshared.a lacks stat() (in libc.so from 2.33).
# common.sh is not sourced: it unpacks source tarballs, and this is a wheel (a zip archive).
set -euo pipefail
: "${SOURCE:?}" "${TARGET_SYSROOT:?}" "${GLIBC_FLOOR:?}" "${GNU_TRIPLE:?}"
DESTDIR=/out
root="${DESTDIR}${TARGET_SYSROOT}"
work=/build/ziglang
mkdir -p "${work}/wheel" "${root}"

stage() { echo "=== $1"; }

stage "unpack"
python3 -m zipfile -e "${SOURCE}" "${work}/wheel"
zig="${work}/wheel/ziglang/zig"
chmod 0755 "${zig}"
"${zig}" version

# zig names targets by its own CPU names and the C library version (x86_64-linux-gnu.2.17).
arch="${GNU_TRIPLE%%-*}"
abi="${GNU_TRIPLE##*-}"
case "${arch}" in
    i?86) zig_arch=x86 ;;
    armv7*) zig_arch=arm ;;
    *) zig_arch="${arch}" ;;
esac
zig_target="${zig_arch}-linux-${abi}.${GLIBC_FLOOR}"
# The Debian sysroot's multiarch directory (x86_64-linux-gnu, i386-linux-gnu, ...): where its
# crt objects are, and where the tree keeps the same files.
nonshared=(/sysroot/usr/lib/*/libc_nonshared.a)
multiarch_dir="${nonshared[0]%/libc_nonshared.a}"
multiarch="${multiarch_dir##*/}"

stage "stubs for glibc ${GLIBC_FLOOR} (${zig_target})"
# Linking a program against every library makes zig generate all the stubs, into a cache of
# this step's own; the compile's -v output lists the header directories zig uses for the target.
export ZIG_GLOBAL_CACHE_DIR="${work}/zig-cache" ZIG_LOCAL_CACHE_DIR="${work}/zig-local-cache"
echo 'int main(void) { return 0; }' > "${work}/probe.c"
cd "${work}"  # (zig's -v output names its cache files relative to this directory)
"${zig}" cc -target "${zig_target}" -fno-sanitize=all -v -o "${work}/probe" "${work}/probe.c" \
    -lm -lpthread -ldl -lrt -lutil -lresolv 2> "${work}/zig-cc.log" \
    || { cat "${work}/zig-cc.log" >&2; exit 1; }
# The same as a position-independent executable: zig then builds and links Scrt1.o.
"${zig}" cc -target "${zig_target}" -fno-sanitize=all -fPIE -pie -v -o "${work}/probe-pie" \
    "${work}/probe.c" 2> "${work}/zig-cc-pie.log" || { cat "${work}/zig-cc-pie.log" >&2; exit 1; }
maps=("${ZIG_GLOBAL_CACHE_DIR}"/o/*/all.map)
if [[ ${#maps[@]} -ne 1 || ! -f "${maps[0]}" ]]; then
    echo "ziglang: expected one directory of glibc stubs in zig's cache, found ${#maps[@]}" >&2
    exit 1
fi
stubs="${maps[0]%/all.map}"
mkdir -p "${root}/lib/${multiarch}" "${root}/usr/lib/${multiarch}"
for library in "${stubs}"/*.so.*; do
    soname=$(readelf -d "${library}" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
    install -m 0644 "${library}" "${root}/lib/${multiarch}/${soname}"
    echo "stub ${soname}"
done

stage "headers"
# zig's include directories for the target, most specific first; copied least specific first so
# that a more specific header replaces a generic one, as the search order would pick it. Its own
# lib/include (the compiler's builtin headers) is left out: clang brings its own.
mapfile -t include_dirs < <(sed -n '/^#include <...> search starts here:$/,/^End of search list.$/p' \
    "${work}/zig-cc.log" | sed '1d;$d;s/^ //' | grep '/lib/libc/include/')
if [[ ${#include_dirs[@]} -lt 2 ]]; then
    echo "ziglang: zig cc -v listed no libc header directories (${work}/zig-cc.log)" >&2
    exit 1
fi
mkdir -p "${root}/usr/include"
for ((i = ${#include_dirs[@]} - 1; i >= 0; i--)); do
    echo "headers from ${include_dirs[i]#"${work}/wheel/"}"
    cp -R "${include_dirs[i]}/." "${root}/usr/include/"
done
# zig passes -D__GLIBC_MINOR__ on its command line; here the headers say it themselves.
features="${root}/usr/include/features.h"
marker='/\* zig patch: we pass `-D__GLIBC_MINOR__=XX` depending on the target. \*/'
if ! grep -q "^${marker}\$" "${features}"; then
    echo "ziglang: features.h has no line where zig leaves __GLIBC_MINOR__ out; zig changed" >&2
    exit 1
fi
sed -i "s|^${marker}\$|#define __GLIBC_MINOR__ ${GLIBC_FLOOR#*.}|" "${features}"
# zig's headers are the newest glibc's, whose _TIME_BITS=64 gives 32-bit CPUs a 64-bit time_t
# through functions added in 2.34 (__time64, __select64, ...); older glibc headers ignore
# _TIME_BITS, and so do these for an older floor (Tcl's configure asks for it).
if (( ${GLIBC_FLOOR#*.} < 34 )); then
    time64="${root}/usr/include/features-time64.h"
    if ! grep -q '^#if defined _TIME_BITS$' "${time64}"; then
        echo "ziglang: features-time64.h has no '#if defined _TIME_BITS' line; zig changed" >&2
        exit 1
    fi
    sed -i "s|^#if defined _TIME_BITS\$|#if 0 /* glibc ${GLIBC_FLOOR} has no _TIME_BITS */|" "${time64}"
fi

stage "start files and compiler runtime"
# zig's own, from the final link of each probe (the ld.lld command that writes the probe).
zig_link_input() {  # LOG OUTPUT FILE-NAME: the path of FILE-NAME among the link's inputs
    local found
    found=$(grep -F -- "-o ${work}/$2 " "${work}/$1" | grep '^ld.lld ' | tr ' ' '\n' \
        | grep -E "(^|/)$3\$" | head -1)
    if [[ -z "${found}" || ! -f "${found}" ]]; then
        echo "ziglang: the link of $2 (${work}/$1) names no $3; zig changed" >&2
        exit 1
    fi
    echo "${found}"
}
install -m 0644 "$(zig_link_input zig-cc.log probe crt1.o)" "${root}/usr/lib/${multiarch}/crt1.o"
install -m 0644 "$(zig_link_input zig-cc-pie.log probe-pie Scrt1.o)" "${root}/usr/lib/${multiarch}/Scrt1.o"
install -m 0644 "$(zig_link_input zig-cc.log probe libc_nonshared.a)" \
    "${root}/usr/lib/${multiarch}/libc_nonshared.a"
for file in crti.o crtn.o libc.so; do
    cp -a "${multiarch_dir}/${file}" "${root}/usr/lib/${multiarch}/"
done
# The other libraries' development names point at the stubs. (libc.so is Debian's linker
# script: the stub libc, libc_nonshared.a and the loader, at paths this tree has too.)
for library in "${root}/lib/${multiarch}"/lib*.so.*; do
    name="${library##*/}"
    if [[ "${name}" != libc.so.* && "${name}" != libgcc_s.so.* ]]; then
        ln -sfn "../../../lib/${multiarch}/${name}" "${root}/usr/lib/${multiarch}/${name%%.so.*}.so"
    fi
done
# The loader, where the libc.so script and the programs' PT_INTERP name it.
loader_path=$(grep -o 'AS_NEEDED ( [^ ]* )' "${multiarch_dir}/libc.so" | awk '{print $3}')
loader_name="${loader_path##*/}"
if [[ ! -f "${root}/lib/${multiarch}/${loader_name}" ]]; then
    echo "ziglang: no stub for the loader ${loader_name}" >&2
    exit 1
fi
if [[ "${loader_path}" != "/lib/${multiarch}/${loader_name}" ]]; then
    mkdir -p "${root}${loader_path%/*}"
    ln -sfn "$(realpath -m --relative-to="${loader_path%/*}" "/lib/${multiarch}/${loader_name}")" \
        "${root}${loader_path}"
fi
cp -a /sysroot/usr/lib/gcc "${root}/usr/lib/"
# GCC's shared runtime as a stub too: the sysroot's own is linked against the sysroot's glibc (a
# bookworm libgcc_s.so.1 calls _dl_find_object@GLIBC_2.35), and lld refuses a library whose
# references the stub libc cannot answer. The stub exports what the real one does, with the same
# symbol versions and sizes, and references nothing; programs still load the system's own.
stub_library() {  # REAL STUB
    local real=$1 stub=$2 dir="${work}/stub-${1##*/}" soname
    soname=$(readelf -d "${real}" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
    mkdir -p "${dir}"
    # Defined functions and objects: "type bind size name@@version" (name@version: not default).
    readelf --dyn-syms --wide "${real}" \
        | awk '($4 == "FUNC" || $4 == "OBJECT") && ($5 == "GLOBAL" || $5 == "WEAK") \
               && $(NF-1) != "UND" && $(NF-1) != "ABS" { print $4, $5, $3, $NF }' \
        > "${dir}/symbols"
    if grep -qv '@' "${dir}/symbols"; then
        echo "ziglang: ${real} exports symbols without a version; no stub for it" >&2
        exit 1
    fi
    awk -v script="${dir}/version.map" '
        {
            number = NR; type = $1; bind = $2; size = $3; name = $4
            default = index(name, "@@") > 0
            split(name, parts, "@+"); symbol = parts[1]; version = parts[2]
            attributes = (bind == "WEAK") ? "__attribute__((weak)) " : ""
            label = default ? symbol : "stub_" number
            if (type == "OBJECT") {
                printf "%schar stub_%d[%d] __asm__(\"%s\");\n", attributes, number, (size > 0 ? size : 1), label
            } else {
                printf "%svoid stub_%d(void) __asm__(\"%s\");\n", attributes, number, label
                printf "void stub_%d(void) {}\n", number
            }
            if (!default) printf "__asm__(\".symver stub_%d, %s@%s\");\n", number, symbol, version
            if (!(version in known)) { known[version] = 1; order[++versions] = version }
            if (default) exported[version] = exported[version] "    " symbol ";\n"
        }
        END {
            for (i = 1; i <= versions; i++) {
                v = order[i]
                printf "%s {\n", v > script
                if (exported[v] != "") printf "  global:\n%s", exported[v] > script
                if (i == 1) printf "  local:\n    *;\n" > script
                printf "};\n" > script
            }
        }' "${dir}/symbols" > "${dir}/stub.c"
    target-clang -shared -nostdlib -fPIC -w -o "${stub}" "${dir}/stub.c" \
        -Wl,-soname,"${soname}" -Wl,--version-script,"${dir}/version.map"
    echo "stub ${soname} ($(wc -l < "${dir}/symbols") symbols, from ${real#/sysroot})"
}
stub_library "/sysroot/lib/${multiarch}/libgcc_s.so.1" "${root}/lib/${multiarch}/libgcc_s.so.1"

stage "check"
# A program linked against the tree binds nothing newer than the floor and runs here (a foreign
# target's only links): unoptimized, so that stat() is the call libc_nonshared.a answers rather
# than the inline wrapper, and as a PIE and not, so that both start files run constructors; and
# with the 64-bit file and time options configure scripts choose (Tcl's), which must bind
# nothing newer either.
cat > "${work}/check.c" <<'EOF'
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
static int constructed;
__attribute__((constructor)) static void construct(void) { constructed = 1; }
static void *run(void *arg) { return arg; }
int main(void) {
    struct stat st;
    pthread_t thread;
    if (!constructed) { fputs("constructors did not run\n", stderr); return 1; }
    if (stat("/", &st) != 0 || time(NULL) == (time_t)-1) return 1;
    if (pthread_create(&thread, NULL, run, NULL) != 0) return 1;
    pthread_join(thread, NULL);
    printf("glibc %d.%d headers, sqrt(2)=%.3f\n", __GLIBC__, __GLIBC_MINOR__, sqrt(2.0));
    return 0;
}
EOF
clang="target-clang --sysroot=${root}"
for variant in "-O0 -fPIE -pie" "-O2 -fno-PIE -no-pie -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64"; do
    ${clang} ${TARGET_CFLAGS:-} ${variant} ${TARGET_LDFLAGS:-} -o "${work}/check" "${work}/check.c" -lm -lpthread
    newest=$(readelf -V --wide "${work}/check" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' \
        | sort -uV | tail -1)
    echo "check program (${variant}): newest symbol version GLIBC_${newest}"
    if [[ "$(printf '%s\n%s\n' "${newest}" "${GLIBC_FLOOR}" | sort -V | tail -1)" != "${GLIBC_FLOOR}" ]]; then
        echo "ziglang: a program linked against the tree needs GLIBC_${newest}, newer than ${GLIBC_FLOOR}" >&2
        exit 1
    fi
    if [[ -z "${BUILD_CC:-}" ]]; then
        "${work}/check"
    fi
done
stage "done"
