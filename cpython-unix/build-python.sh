# Sourced by build-cpython.sh when the build machine cannot run target code (BUILD_PYTHON_MARCH
# is set): a separate interpreter of the same version for this machine, which CPython's build
# then runs wherever it would run the new one (freezing modules, sysconfig data, byte-compiling,
# ensurepip), and what configure would otherwise learn by running test programs.
#
# build_python SRC_DIR CONFIGURE_ARGS...
#   Builds the interpreter out of tree in /build-python (the source tree stays clean for the
#   target's own in-tree build) and sets BUILD_PYTHON. CONFIGURE_ARGS are the target's options
#   that change the ABI (--disable-gil, --with-pydebug): the build interpreter must have the same
#   abiflags, as collect-facts.py describes the target through it.
# run_build_python_as INSTALL_DIR ARGS...
#   Runs the build interpreter as if it were INSTALL_DIR's (prefix, standard library, sysconfig
#   data); see collect-facts.py.
# write_run_check_answers CONFIGURE_AC CACHE_FILE
#   Prints a CONFIG_SITE for the target's configure: the answers of every check that runs a
#   program (and of the device-file checks that cross builds must be told), as the build
#   interpreter's configure found them on this machine. Their results depend on the C library
#   and kernel, not on -march.

BUILD_PYTHON_DIR=/build-python

# The build interpreter's own libraries (BUILD_SOURCES_DIR of pythonbuild/linux/plan.py), built for
# this machine and kept away from the target's dependency tree.
_build_python_libraries() {
    local tarball name
    for tarball in /inputs/build-machine/*/*; do
        [[ -e "${tarball}" ]] || continue
        name=$(basename "$(dirname "${tarball}")")
        mkdir -p "${BUILD_PYTHON_DIR}/src/${name}"
        tar -xf "${tarball}" -C "${BUILD_PYTHON_DIR}/src/${name}" --strip-components=1 --no-same-owner
        case "${name}" in
            zlib)
                (cd "${BUILD_PYTHON_DIR}/src/zlib" \
                    && ./configure --static --prefix="${BUILD_PYTHON_DIR}/deps" \
                    && make -j"${JOBS}" install)
                ;;
            *)
                echo "build-python.sh: no recipe for building ${name} for the build interpreter" >&2
                return 1
                ;;
        esac
    done
}

build_python() {
    local src_dir=$1
    shift
    (
        # Nothing of the target's environment: its -march, its dependency tree (pkg-config would
        # find the target's libraries), its static-module and link settings.
        unset CFLAGS_NODIST LDFLAGS_NODIST MODULE_BUILDTYPE TCLTK_CFLAGS TCLTK_LIBS
        # For a target of another CPU, this machine's own compiler and libc (the image's BUILD_CC);
        # for one of this CPU family, the target's compiler and sysroot with a lower -march.
        export CC="${BUILD_CC:-${CC}}"
        export CFLAGS="-march=${BUILD_PYTHON_MARCH:?}"
        export CPPFLAGS="-I${BUILD_PYTHON_DIR}/deps/include"
        export LDFLAGS="-L${BUILD_PYTHON_DIR}/deps/lib"
        export PKG_CONFIG_LIBDIR="${BUILD_PYTHON_DIR}/deps/lib/pkgconfig"
        _build_python_libraries
        mkdir -p "${BUILD_PYTHON_DIR}/build"
        cd "${BUILD_PYTHON_DIR}/build"
        # The same prefix as the target: ensurepip's scripts and sys.prefix-derived values of
        # the build come out as they would natively.
        "${src_dir}/configure" --prefix="${BUILD_PREFIX:?}" --without-ensurepip \
            --cache-file="${BUILD_PYTHON_DIR}/config.cache" "$@"
        make -j"${JOBS}"
    )
    BUILD_PYTHON="${BUILD_PYTHON_DIR}/build/python"
    "${BUILD_PYTHON}" -c 'import sys, zlib; print("build interpreter:", sys.version, sys.abiflags)'
}

run_build_python_as() {
    local install=$1 sysconfigdata
    shift
    # A copy away from its build tree: there it would take its prefix and headers from the tree
    # whatever PYTHONHOME says.
    mkdir -p "${BUILD_PYTHON_DIR}/bin"
    cp "${BUILD_PYTHON}" "${BUILD_PYTHON_DIR}/bin/python3"
    sysconfigdata=$(ls "${install}"/lib/python3*/_sysconfigdata_*.py)
    # The data's name as well as its directory: for another CPU it carries the target's multiarch
    # (_sysconfigdata__linux_aarch64-linux-gnu), not the one this interpreter would look for.
    sysconfigdata=${sysconfigdata%.py}
    PYTHONHOME="${install}" _PYTHON_SYSCONFIGDATA_PATH="${sysconfigdata%/*}" \
        _PYTHON_SYSCONFIGDATA_NAME="${sysconfigdata##*/}" \
        "${BUILD_PYTHON_DIR}/bin/python3" "$@"
}

write_run_check_answers() {
    python3 - "$1" "$2" <<'EOF'
import re, sys

configure_ac, cache_file = sys.argv[1], sys.argv[2]
text = open(configure_ac, encoding="utf-8").read()

def call_end(start):
    """Index after the parenthesis closing the macro call opened at text[start - 1]."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise SystemExit(f"{configure_ac}: unbalanced AC_CACHE_CHECK")

wanted = set()
for match in re.finditer(r"AC_CACHE_CHECK\(\s*\[[^\]]*\]\s*,\s*\[?(\w+)", text):
    if "AC_RUN_IFELSE" in text[match.start() : call_end(text.index("(", match.start()) + 1)]:
        wanted.add(match.group(1))
answers = {}
for line in open(cache_file, encoding="utf-8"):
    # config.cache is shell: NAME=${NAME=value}, the value quoted as needed; kept as written.
    found = re.match(r"(\w+)=", line)
    if found and (found.group(1) in wanted or found.group(1).startswith("ac_cv_file__dev_")):
        answers[found.group(1)] = line.rstrip("\n")
missing = sorted(wanted - answers.keys())
print("# Answers of configure's run checks, from the build interpreter's configure")
for name in sorted(answers):
    print(answers[name])
if missing:
    print(f"# not in the cache (checks this configure did not reach): {' '.join(missing)}")
EOF
}
