"""Damaged checkpoints: an input names the file; a resume checkpoint is set aside (``*.corrupt``) and
training restarts, so a damaged file never wedges the job."""

import os

import pytest
import torch
from fault_chain import Chain, Killed, assert_nothing_complete, kill_after_checkpoints, same_weights

from stelab.cli import main


class Payload:
    """Unpickling it would run a shell command: ``weights_only`` loading must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(os.urandom(4096))


def _empty(path):
    path.write_bytes(b"")


def _drop_optimizer(path):
    ckpt = torch.load(path, weights_only=True)
    del ckpt["optimizer"]
    torch.save(ckpt, path)


def _misshapen_kernel(path):
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["fc.weight"] = torch.zeros(3, 3)
    torch.save(ckpt, path)


def _a_list(path):
    torch.save([1, 2, 3], path)


def _code(path):
    torch.save({"run": Payload(path.parent / "pwned")}, path)


#: (case, damage, what the error says right after the file's name)
DAMAGE = [
    ("truncated", _truncate, " is unreadable"),
    ("garbage", _garbage, " is unreadable"),
    ("empty", _empty, " is unreadable"),
    ("missing optimizer", _drop_optimizer, " lacks the key(s) ['optimizer']"),
    ("misshapen tensor", _misshapen_kernel, ": its model or optimiser state does not fit its run"),
    ("not a dict", _a_list, " holds a list, not a checkpoint dict"),
    ("pickled code", _code, " is unreadable"),
]
IDS = [d[0] for d in DAMAGE]


@pytest.mark.parametrize("case, damage, message", DAMAGE, ids=IDS)
def test_damaged_branch_start_checkpoint_names_the_file(tmp_path, mnist, capsys, case, damage, message):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    damage(chain.init)
    assert chain.branch() == 2
    assert f"checkpoint {chain.init}{message}" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs, chain.branch_ckpt)
    assert not (tmp_path / "qhat" / "pwned").exists()


@pytest.mark.parametrize("case, damage", [("truncated", _truncate), ("garbage", _garbage)], ids=["truncated", "garbage"])
def test_damaged_pretrain_output_names_the_file_in_fork(tmp_path, mnist, capsys, case, damage):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0
    damage(chain.pre)
    assert chain.fork() == 2
    assert f"checkpoint {chain.pre} is unreadable" in capsys.readouterr().err
    assert_nothing_complete(chain.init)


def test_missing_start_checkpoint_names_the_file(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist)
    assert chain.branch() == 2
    assert f"checkpoint {chain.init} does not exist" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs)


@pytest.mark.parametrize("case, damage", [("truncated", _truncate), ("missing optimizer", _drop_optimizer),
                                          ("misshapen tensor", _misshapen_kernel)], ids=["truncated", "keys", "shape"])
def test_damaged_resume_checkpoint_is_set_aside_and_training_restarts(tmp_path, mnist, monkeypatch, capsys,
                                                                      case, damage):
    whole = Chain(tmp_path / "whole", mnist)
    assert whole.run() == 0
    chain = Chain(tmp_path / "chain", mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, 2)
        with pytest.raises(Killed):
            chain.branch()
    damage(chain.branch_ckpt)
    capsys.readouterr()
    assert chain.branch() == 0
    aside = chain.branch_ckpt.with_name(chain.branch_ckpt.name + ".corrupt")
    assert f"setting aside the unusable resume checkpoint {chain.branch_ckpt} as {aside}" in capsys.readouterr().out
    assert aside.exists() and not chain.branch_ckpt.exists()
    assert same_weights(whole.final, chain.final)


def test_damaged_pretrain_resume_checkpoint_is_set_aside(tmp_path, mnist, monkeypatch, capsys):
    chain = Chain(tmp_path, mnist)
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, 1)
        with pytest.raises(Killed):
            chain.pretrain()
    _garbage(chain.pre_ckpt)
    assert chain.pretrain() == 0
    assert "setting aside the unusable resume checkpoint" in capsys.readouterr().out
    assert chain.pre_ckpt.with_name(chain.pre_ckpt.name + ".corrupt").exists()


@pytest.mark.parametrize("which", ["final", "snapshots"])
def test_damaged_branch_output_names_the_file_in_compare(tmp_path, mnist, capsys, which):
    chain = Chain(tmp_path, mnist)
    assert chain.run() == 0
    damaged = chain.final if which == "final" else chain.snapshots
    _truncate(damaged)
    out = tmp_path / "out"
    outputs = [out / "runs.tsv", out / "pairs.tsv", out / "tracking.tsv", out / "scatter.npz"]
    assert main(["compare", "--runs", str(chain.final), "--snapshots", str(chain.snapshots),
                 "--runs-out", str(outputs[0]), "--pairs-out", str(outputs[1]), "--tracking-out", str(outputs[2]),
                 "--scatter-out", str(outputs[3])]) == 2
    assert f"checkpoint {damaged} is unreadable" in capsys.readouterr().err
    assert_nothing_complete(*outputs)
