"""The digest of the stelab package's source (stelab.config.package_digest): it changes with any
code change the version number does not show, and with nothing else."""

import hashlib
import shutil
from pathlib import Path

from stelab.config.identity import package_digest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "stelab"


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("x = 1\n")
    (root / "sub" / "m.py").write_text("y = 2\n")
    return root


def test_digest_follows_the_definition(tmp_path):
    root = _tree(tmp_path / "pkg")
    h = hashlib.sha256()
    for rel, text in (("__init__.py", b"x = 1\n"), ("sub/m.py", b"y = 2\n")):
        h.update(rel.encode() + b"\0" + hashlib.sha256(text).digest())
    assert package_digest(root) == "sha256:" + h.hexdigest()


def test_digest_changes_with_code_and_not_with_caches_or_other_files(tmp_path):
    root = _tree(tmp_path / "pkg")
    before = package_digest(root)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (root / "notes.txt").write_text("not code\n")
    assert package_digest(root) == before
    (root / "sub" / "m.py").write_text("y = 3\n")
    edited = package_digest(root)
    assert edited != before
    (root / "sub" / "m.py").rename(root / "sub" / "n.py")  # same bytes, another module
    assert package_digest(root) not in (before, edited)


def test_default_is_this_package_and_a_copy_digests_the_same(tmp_path):
    copy = tmp_path / "stelab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert package_digest() == package_digest(PACKAGE) == package_digest(copy)
