"""Data carry a SHA-256 manifest, written with them and checked by every job that reads them: a file
changed afterwards (same size included) stops the job naming the file; replacing data on purpose
takes one command."""

import hashlib

import pytest
from fault_chain import Chain, assert_nothing_complete, write_data

from stelab.cli import main
from stelab.data.download import download_mnist
from stelab.data.idx import MNIST_FILES
from stelab.data.manifest import MANIFEST


def _overwrite_same_size(path, n: int = 20) -> None:
    """Change ``n`` bytes after the header: header, size, shape and label range all still check out."""
    raw = bytearray(path.read_bytes())
    offset = 10 if "labels" in path.name else 20  # headers: 8 and 16 bytes
    for i in range(offset, offset + n):
        raw[i] = (raw[i] + 1) % 10 if "labels" in path.name else 255 - raw[i]
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("name", MNIST_FILES)
def test_same_size_corruption_stops_pretraining_naming_the_file(tmp_path, own_mnist, capsys, name):
    _overwrite_same_size(own_mnist / name)
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 2
    err = capsys.readouterr().err
    assert f"{own_mnist / name}: content changed since the data was written" in err
    assert f"stelab data-manifest {own_mnist}" in err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def test_corruption_after_the_fork_stops_the_branch(tmp_path, own_mnist, capsys):
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _overwrite_same_size(own_mnist / "t10k-images-idx3-ubyte")
    assert chain.branch() == 2
    assert "t10k-images-idx3-ubyte: content changed" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs, chain.branch_ckpt)


def test_missing_or_damaged_manifest_names_it(tmp_path, own_mnist, capsys):
    chain = Chain(tmp_path / "chain", own_mnist)
    (own_mnist / MANIFEST).unlink()
    assert chain.pretrain() == 2
    assert f"{own_mnist / MANIFEST}: no data manifest" in capsys.readouterr().err
    (own_mnist / MANIFEST).write_text("not a manifest\n")
    assert chain.pretrain() == 2
    assert f"{own_mnist / MANIFEST}: line 1 is not" in capsys.readouterr().err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def test_replacing_data_on_purpose_takes_one_command(tmp_path, own_mnist, capsys):
    write_data(tmp_path / "other", seed=5)
    for name in MNIST_FILES:
        (own_mnist / name).write_bytes((tmp_path / "other" / name).read_bytes())
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 2
    assert main(["data-manifest", str(own_mnist)]) == 0
    assert chain.pretrain() == 0
    assert (own_mnist / MANIFEST).read_text() == (tmp_path / "other" / MANIFEST).read_text()


def test_data_manifest_refuses_a_malformed_folder(tmp_path, own_mnist, capsys):
    images = own_mnist / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    before = (own_mnist / MANIFEST).read_text()
    assert main(["data-manifest", str(own_mnist)]) == 2
    assert f"{images}: file truncated" in capsys.readouterr().err
    assert (own_mnist / MANIFEST).read_text() == before


def test_synthesis_and_download_write_the_manifest_of_every_file(tmp_path):
    assert main(["make-synthetic", "--out", str(tmp_path / "syn"), "--n-train", "20", "--n-test", "10"]) == 0
    lines = (tmp_path / "syn" / MANIFEST).read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == list(MNIST_FILES)
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "syn" / name).read_bytes()).hexdigest() == digest
    md5s = {n: hashlib.md5((tmp_path / "syn" / n).read_bytes()).hexdigest() for n in MNIST_FILES}
    download_mnist(tmp_path / "out", [str(tmp_path / "syn")], md5s=md5s)
    assert (tmp_path / "out" / MANIFEST).read_text() == (tmp_path / "syn" / MANIFEST).read_text()


def test_failed_mirror_is_logged_with_its_reason_when_a_later_one_serves(tmp_path, capsys):
    write_data(tmp_path / "good")
    md5s = {n: hashlib.md5((tmp_path / "good" / n).read_bytes()).hexdigest() for n in MNIST_FILES}
    (tmp_path / "bad").mkdir()
    download_mnist(tmp_path / "out", [str(tmp_path / "missing"), str(tmp_path / "bad"), str(tmp_path / "good")],
                   md5s=md5s)
    err = capsys.readouterr().err
    assert f"failed: {tmp_path / 'missing'}: folder {tmp_path / 'missing'} does not exist" in err
    assert f"failed: {tmp_path / 'bad'}: train-images-idx3-ubyte: neither train-images-idx3-ubyte nor" in err
