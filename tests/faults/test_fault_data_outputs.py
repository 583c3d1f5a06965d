"""Data that does not fit the run, and outputs that cannot be written: errors name the key, folder
or file, and no output that looks complete is left behind."""

import os
import resource
import subprocess
import sys

import pytest
from fault_chain import Chain, assert_nothing_complete, qat_json, write_data
from helpers import REPO, workflow_env

#: run as root, drop the capabilities that let root write into a read-only folder
UNPRIVILEGED = (["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                 "--inh-caps=-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else [])

SUBSETS = [
    ("train_subset", {"train_subset": 1000}, "qat.train_subset: 1000 exceeds the 64 training examples in"),
    ("val_subset", {"val_subset": 33}, "qat.val_subset: 33 exceeds the 32 test examples in"),
    ("eval_train_subset", {"train_subset": 32, "eval_train_subset": 48},
     "qat.eval_train_subset: 48 exceeds the 32 training examples the run trains on"),
]


@pytest.mark.parametrize("key, changes, message", SUBSETS, ids=[s[0] for s in SUBSETS])
def test_subset_larger_than_the_data_names_key_and_sizes(tmp_path, mnist, capsys, key, changes, message):
    chain = Chain(tmp_path, mnist, qat_json(**changes))
    assert chain.pretrain() == 2
    assert message in capsys.readouterr().err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def test_data_shrunk_after_the_fork_names_the_folder(tmp_path, own_mnist, capsys):
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    write_data(own_mnist, n_train=48)
    assert chain.branch() == 2
    assert f"{own_mnist}: the run trains on 48 examples here but was set up for 64" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs, chain.branch_ckpt)


def test_missing_or_truncated_data_names_the_file(tmp_path, own_mnist, capsys):
    chain = Chain(tmp_path / "chain", tmp_path / "nowhere")
    assert chain.pretrain() == 2
    assert str(tmp_path / "nowhere") in capsys.readouterr().err
    images = own_mnist / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 2
    assert f"{images}: file truncated" in capsys.readouterr().err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def _stelab(args, limit_bytes=None):
    def limit():
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "stelab.cli", *args], cwd=REPO, env=workflow_env(),
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def test_read_only_output_folder_names_the_file(tmp_path, mnist):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    chain.final.parent.chmod(0o555)
    try:
        proc = _stelab([*chain.train_branch_args(), "--checkpoint-every", "0"])
    finally:
        chain.final.parent.chmod(0o755)
    assert proc.returncode != 0
    assert "Permission denied" in proc.stderr and f"cannot write {chain.history}" in proc.stderr
    assert_nothing_complete(*chain.outputs)


def test_output_folder_that_is_a_file_names_the_path(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist)
    (tmp_path / "blocked").write_text("a file where a folder should be")
    chain.pre = tmp_path / "blocked" / "pretrain.pt"
    assert chain.pretrain("--checkpoint-every", "0") == 2
    assert f"cannot write {chain.pre}" in capsys.readouterr().err


def test_full_disk_while_writing_outputs_leaves_none_of_them(tmp_path, mnist):
    """RLIMIT_FSIZE stands in for a full disk: history and timings fit, the snapshots do not; the job
    fails naming them, and the two written already are removed with it (all four or none)."""
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    proc = _stelab([*chain.train_branch_args(), "--checkpoint-every", "0"], limit_bytes=200_000)
    assert proc.returncode != 0
    assert "File too large" in proc.stderr and f"cannot write {chain.snapshots}" in proc.stderr
    assert_nothing_complete(*chain.outputs)
