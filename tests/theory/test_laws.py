"""Laws of the teacher weights: ρ = E[w*²] exact for the Gauss–Hermite-discretised gaussian law."""

import pytest

from stelab.theory.model import Model


def test_gaussian_teacher_rho_is_exact():
    m = Model.from_spec({"teacher": {"kind": "gaussian", "mean": 0.5, "std": 2.0, "nodes": 7}})
    assert m.rho == pytest.approx(0.25 + 4.0)
    assert float(m.teacher.probs @ m.teacher.values**2) == pytest.approx(4.25, rel=1e-12)
