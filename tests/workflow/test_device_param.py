"""A training job's --device follows the GPU it is given (workflow/rules/qat.smk: qat_device): cpu
without one, even where a GPU is visible; cuda when qat.gpu asks for one; auto when only the Slurm
profile's set-resources gives one."""

import re
import subprocess

import pytest

from helpers import BIN, REPO, workflow_env


@pytest.mark.parametrize("extra, device", [([], "cpu"), (["--configfile", "GPU"], "cuda"),
                                           (["--profile", str(REPO / "profiles" / "slurm")], "auto")])
def test_training_device_follows_the_gpu_resource(tmp_path, extra, device):
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("qat:\n  gpu: 1\n")
    extra = [str(gpu) if a == "GPU" else a for a in extra]
    cmd = [str(BIN / "snakemake"), "results/qat/runs.tsv", "-s", str(REPO / "Snakefile"), "--directory",
           str(tmp_path / "run"), "-n", "-p", "--configfile", str(REPO / "config" / "smoke.yaml"), *extra]
    if "--profile" not in extra:
        cmd += ["--cores", "1"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=workflow_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    devices = re.findall(r"--device (\w+)", proc.stdout)
    assert len(devices) >= 12 and set(devices) == {device}, devices  # 2 pretrain + 10 branches at least
