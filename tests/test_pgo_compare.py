"""pgo-compare's reading of llvm-profdata's text format and its function-by-function counts."""

from pythonbuild.linux.pgo_compare import compare, main, parse_text_profile, program_overlap

# Two files named exceptions.c (Objects/ and Modules/_io/ style): same static name, other hash.
PROFILE_A = """\
# IR level Instrumentation Flag
Hacl_Hash_MD5.c:load32
# Func Hash:
24
# Num Counters:
1
# Counter Values:
16000

exceptions.c:Py_SIZE
# Func Hash:
24
# Num Counters:
2
# Counter Values:
5
7

exceptions.c:Py_SIZE
# Func Hash:
1111
# Num Counters:
1
# Counter Values:
3

only_in_a
# Func Hash:
9
# Num Counters:
1
# Counter Values:
1
"""


def test_parse_keeps_same_named_functions_apart():
    functions = parse_text_profile(PROFILE_A)
    assert functions == {
        ("Hacl_Hash_MD5.c:load32", "24"): (16000,),
        ("exceptions.c:Py_SIZE", "24"): (5, 7),
        ("exceptions.c:Py_SIZE", "1111"): (3,),
        ("only_in_a", "9"): (1,),
    }


def test_compare_counts_functions_and_counters():
    a = parse_text_profile(PROFILE_A)
    b = dict(a)
    del b[("only_in_a", "9")]
    b[("exceptions.c:Py_SIZE", "24")] = (5, 8)  # one of two counters moved
    b[("only_in_b", "1")] = (2,)
    difference = compare(a, b)
    assert (difference.only_a, difference.only_b) == (1, 1)
    assert (difference.same, difference.counts_differ) == (2, 1)
    assert (difference.counters, difference.counters_differ) == (4, 1)
    assert difference.lines()[1].startswith("identical counters: 2 functions (66.67%)")
    assert compare(a, a).counts_differ == 0


def test_program_overlap_lines():
    report = (
        "Profile overlap infomation for base_profile: a and test_profile: b\n"
        "Program level:\n"
        "  # of functions overlap: 20594\n"
        "  Edge profile overlap: 99.512%\n"
        "Function level:\n"
        "  Function: foo\n"
    )
    assert program_overlap(report) == [
        "# of functions overlap: 20594",
        "Edge profile overlap: 99.512%",
    ]
    assert program_overlap("nothing") == []


def test_bad_arguments_and_missing_bundles_are_one_line_errors(tmp_path, capsys):
    assert main([str(tmp_path / "a.tar.zst")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m pythonbuild pgo-compare: error:") and err.count("\n") == 1
    missing = tmp_path / "missing-profile.tar.zst"
    assert main([str(missing), str(missing)]) != 0
    err = capsys.readouterr().err
    assert "missing-profile.tar.zst" in err and err.count("\n") == 1
