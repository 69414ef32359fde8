"""pyperf benchmarks of the C libraries bundled into the interpreter (the ``stdlib-c`` set).

    python run_benchmark.py zlib|bz2|lzma|zstd|sqlite3 [pyperf options]

Each one times a round trip through one library with its default settings, on inputs that are
byte-identical on every Python version (a private generator, not ``random``, makes them), so
the time differences come from how the library was built, not from what it was fed.

``zstd`` needs ``compression.zstd`` (Python 3.14+); where it is missing the script exits with
status 77 ("skipped") before pyperf starts, and the bench driver reports it as not available.

Runs on every Python the bench supports (3.9+): no newer syntax here.
"""

import sys

SKIPPED_EXIT_STATUS = 77
TEXT_SIZE = 1 << 20  # 1 MiB: large enough that per-call overhead does not dominate
# lzma's default preset needs ~0.8 s per MiB on this project's 2-core reference machine; a
# quarter of the text keeps one value near 0.2 s like the others, and is still 256 KiB.
LZMA_TEXT_SIZE = TEXT_SIZE // 4
SQLITE_ROWS = 20_000
SQLITE_LOOKUPS = 500

_WORDS_TEXT = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no will more said what up its about into than them can only other time new some "
    "could these two may first then do any like my now over such our man me even most made "
    "after also did many before must through back years where much your way well down should "
    "because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three "
    "interpreter compression library benchmark standalone relocatable distribution sqlite "
    "database transaction index aggregate checksum archive stream buffer encoder decoder"
)
WORDS = tuple(_WORDS_TEXT.split())
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARNING", "ERROR")
CATEGORIES = ("books", "garden", "kitchen", "music", "sports", "tools", "toys", "travel")


class Generator:
    """A 64-bit linear congruential generator: the same numbers on every Python version."""

    def __init__(self, seed: int) -> None:
        self.state = seed

    def below(self, bound: int) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        return (self.state >> 33) % bound

    def word(self) -> str:
        return WORDS[self.below(len(WORDS))]


def mixed_text(size: int) -> bytes:
    """Prose, log lines, CSV rows and JSON records interleaved, like a typical text payload."""
    gen = Generator(20241016)
    parts = []
    total = 0
    while total < size:
        kind = gen.below(4)
        if kind == 0:
            words = [gen.word() for _ in range(8 + gen.below(20))]
            line = " ".join(words).capitalize() + ".\n"
        elif kind == 1:
            line = (
                f"2024-{1 + gen.below(12):02d}-{1 + gen.below(28):02d} "
                f"{gen.below(24):02d}:{gen.below(60):02d}:{gen.below(60):02d} "
                f"{LEVELS[gen.below(len(LEVELS))]} worker-{gen.below(16)} "
                f"processed {gen.below(10_000)} items in {gen.below(5_000)} ms\n"
            )
        elif kind == 2:
            line = (
                f"{gen.below(1_000_000)},{CATEGORIES[gen.below(len(CATEGORIES))]},"
                f"{gen.word()} {gen.word()},{gen.below(1000)}.{gen.below(100):02d},"
                f"{gen.below(50)}\n"
            )
        else:
            line = (
                f'{{"id": {gen.below(1_000_000)}, "name": "{gen.word()}", '
                f'"tags": ["{gen.word()}", "{gen.word()}"], '
                f'"score": {gen.below(100)}.{gen.below(1000):03d}}}\n'
            )
        parts.append(line)
        total += len(line)
    return "".join(parts).encode("ascii")[:size]


def compression_roundtrip(module, data: bytes):
    """A bench function compressing then decompressing ``data`` with ``module``'s defaults."""

    def roundtrip() -> None:
        if module.decompress(module.compress(data)) != data:
            raise AssertionError(f"{module.__name__} round trip changed the data")

    return roundtrip


def sqlite_workload():
    """Insert rows in one transaction, then indexed point queries and a grouped aggregate."""
    import sqlite3

    gen = Generator(3)
    rows = [
        (
            CATEGORIES[gen.below(len(CATEGORIES))],
            f"{gen.word()}-{gen.word()}-{index}",
            gen.below(100_000) / 100,
            gen.below(50),
        )
        for index in range(SQLITE_ROWS)
    ]
    lookups = [(rows[gen.below(SQLITE_ROWS)][1],) for _ in range(SQLITE_LOOKUPS)]

    def workload() -> None:
        con = sqlite3.connect(":memory:")
        try:
            con.execute(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, category TEXT NOT NULL, "
                "name TEXT NOT NULL, price REAL NOT NULL, qty INTEGER NOT NULL)"
            )
            # The index exists before the inserts so that they pay for maintaining it.
            con.execute("CREATE INDEX items_by_name ON items (name)")
            with con:
                con.executemany(
                    "INSERT INTO items (category, name, price, qty) VALUES (?, ?, ?, ?)", rows
                )
            found = 0
            for key in lookups:
                found += len(
                    con.execute("SELECT price, qty FROM items WHERE name = ?", key).fetchall()
                )
            totals = con.execute(
                "SELECT category, COUNT(*), SUM(price * qty), AVG(price) FROM items "
                "GROUP BY category ORDER BY 3 DESC"
            ).fetchall()
        finally:
            con.close()
        if found != SQLITE_LOOKUPS or len(totals) != len(CATEGORIES):
            raise AssertionError("sqlite3 workload returned unexpected results")

    return workload


def load_compression_module(library: str):
    if library == "zstd":
        try:
            from compression import zstd
        except ImportError:
            print("stdlib_zstd skipped: compression.zstd is not importable (Python 3.14+)")
            sys.exit(SKIPPED_EXIT_STATUS)
        return zstd
    return __import__(library)


def add_worker_args(cmd: list, args) -> None:
    cmd.append(args.library)


def main() -> None:
    import pyperf  # here, not at the top: tests import this module without pyperf

    runner = pyperf.Runner(add_cmdline_args=add_worker_args)
    runner.argparser.add_argument("library", choices=("zlib", "bz2", "lzma", "zstd", "sqlite3"))
    args = runner.parse_args()
    name = "stdlib_" + args.library
    runner.metadata["description"] = f"{args.library} from the interpreter's bundled C library"
    if args.library == "sqlite3":
        import sqlite3

        runner.metadata["sqlite_version"] = sqlite3.sqlite_version
        runner.bench_func(name, sqlite_workload())
        return
    module = load_compression_module(args.library)
    for attribute in ("ZLIB_RUNTIME_VERSION", "zstd_version_info"):
        if hasattr(module, attribute):
            runner.metadata[f"{args.library}_version"] = str(getattr(module, attribute))
    size = LZMA_TEXT_SIZE if args.library == "lzma" else TEXT_SIZE
    runner.bench_func(name, compression_roundtrip(module, mixed_text(size)))


if __name__ == "__main__":
    main()
