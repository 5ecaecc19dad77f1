"""Built-in ignores, exclude patterns and remote name rules (pure, plain strings)."""

import pytest

from syncd.core.filters import ExcludeRules, is_builtin_ignored, name_problem


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt~",
        ".~lock.report.odt#",
        "~$budget.xlsx",
        ".main.c.swp",
        ".x.swo",
        "a.swp",
        "download.tmp",
        "movie.mkv.part",
        "x.partial",
        "setup.exe.crdownload",
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        ".fuse_hidden000123",
        ".nfs0000000001",
    ],
)
def test_builtin_ignores_match_temp_and_lock_files(name):
    """Office, editor, browser and file-system temp files are ignored."""
    assert is_builtin_ignored(name)


@pytest.mark.parametrize(
    "name",
    [
        "report.pdf",
        "budget.xlsx",
        "a.swap",
        "tmp",
        "lock.odt",
        "part1.zip",
        "my~file.txt",
        "DS_Store",
    ],
)
def test_builtin_ignores_leave_ordinary_files(name):
    """Ordinary names are not caught by the ignore list."""
    assert not is_builtin_ignored(name)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a\tb.txt", "contains tab"),
        ("a*b", "contains '*'"),
        ('say"hi".txt', "contains '\"'"),
        ("a<b", "contains '<'"),
        ("a>b", "contains '>'"),
        ("a|b", "contains '|'"),
        ("ends.", "ends with '.'"),
        (" lead.txt", "leading or trailing space"),
        ("trail.txt ", "leading or trailing space"),
        ("bell\x07.txt", "contains a control character"),
        ("bad\udcff.txt", "not valid UTF-8"),
    ],
)
def test_name_rules_name_the_broken_rule(name, rule):
    """Each remote naming rule is reported by name."""
    assert name_problem(name) == rule


@pytest.mark.parametrize(
    "name", ["報告 2024.docx", "a b.txt", "naïve.md", ".hidden", "x..y", "emoji-😀.png", "a'b.txt"]
)
def test_valid_names_pass(name):
    """Non-ASCII, inner spaces and inner dots are fine."""
    assert name_problem(name) is None


def test_exclude_plain_pattern_matches_at_any_depth():
    """A pattern without '/' matches names at every depth, files and folders alike."""
    rules = ExcludeRules(["*.bak"])
    assert rules.excluded("a.bak", is_dir=False)
    assert rules.excluded("x/y/a.bak", is_dir=False)
    assert not rules.excluded("x/a.bak.txt", is_dir=False)


def test_exclude_trailing_slash_matches_only_folders():
    """'drafts/' excludes a folder named drafts, not a file named drafts."""
    rules = ExcludeRules(["drafts/"])
    assert rules.excluded("drafts", is_dir=True)
    assert rules.excluded("a/drafts", is_dir=True)
    assert not rules.excluded("drafts", is_dir=False)


def test_exclude_pattern_with_slash_is_anchored():
    """A pattern with an inner '/' is matched from the mapping root."""
    rules = ExcludeRules(["reports/2019/*.csv"])
    assert rules.excluded("reports/2019/q1.csv", is_dir=False)
    assert not rules.excluded("old/reports/2019/q1.csv", is_dir=False)
    assert not rules.excluded("reports/2019/sub/q1.csv", is_dir=False)


def test_exclude_double_star_spans_folders():
    """'**' matches any number of folders."""
    rules = ExcludeRules(["build/**/*.o", "**/cache"])
    assert rules.excluded("build/x/y/z.o", is_dir=False)
    assert rules.excluded("build/z.o", is_dir=False)
    assert rules.excluded("a/b/cache", is_dir=True)
    assert rules.excluded("cache", is_dir=True)


def test_empty_exclude_rules_are_falsy():
    """No patterns: nothing is excluded and the rules object is falsy."""
    rules = ExcludeRules(["", "  "])
    assert not rules
    assert not rules.excluded("anything", is_dir=False)


def test_gitignore_rules_with_the_extra():
    """With pathspec (the gitignore extra), negation, anchoring and ** work as in git."""
    rules = ExcludeRules(["*.bak", "!keep.bak", "drafts/", "/top.txt", "reports/**/*.csv"])
    assert rules.excluded("a/b.bak", is_dir=False)
    assert not rules.excluded("x/keep.bak", is_dir=False)
    assert rules.excluded("x/drafts", is_dir=True)
    assert not rules.excluded("x/drafts", is_dir=False)  # a file named drafts
    assert rules.excluded("top.txt", is_dir=False)
    assert not rules.excluded("x/top.txt", is_dir=False)
    assert rules.excluded("reports/2019/q/a.csv", is_dir=False)
