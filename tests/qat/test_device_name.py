"""The device in a run's identity names the CPU kernels' instruction set: the same run dispatched to
AVX2 instead of AVX-512 kernels sums in another order, so it is another numerics."""

import os
import subprocess
import sys

import torch

from stelab.qat.device import device_name


def test_cpu_device_names_the_instruction_set(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert device_name(torch.device("cpu")) == "cpu (AVX2)"


def test_forced_kernel_width_shows_in_the_name():
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", "import torch; from stelab.qat.device import device_name; "
                          "print(device_name(torch.device('cpu')))"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "cpu (DEFAULT)"
