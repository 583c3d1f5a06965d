"""Packaging metadata: CITATION.cff cites this workflow and both papers; LICENSE is MIT."""

import tomllib

import yaml

from helpers import REPO


def test_citation_cff_cites_the_workflow_and_both_papers():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert (cff["title"], cff["version"], cff["license"]) == ("stelab", "0.1.0", "MIT")
    assert cff["version"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    refs = {ref["year"]: ref for ref in cff["references"]}
    ids = {year: {i["value"] for i in ref["identifiers"]} for year, ref in refs.items()}
    assert "arXiv:2405.05171" in ids[2024] and "10.48550/arXiv.2405.05171" in ids[2024]
    assert "arXiv:2510.10693" in ids[2025] and "10.48550/arXiv.2510.10693" in ids[2025]
    assert [a["family-names"] for a in refs[2024]["authors"]] == ["Schoenbauer", "Moro", "Lew", "Howard"]
    assert [a["family-names"] for a in refs[2025]["authors"]] == ["Ichikawa", "Kashiwamura", "Sakata"]
    assert refs[2024]["title"] == "Custom Gradient Estimators are Straight-Through Estimators in Disguise"
    assert refs[2025]["title"] == ("High-Dimensional Learning Dynamics of Quantized Models with "
                                   "Straight-Through Estimator")


def test_license_is_mit_for_the_contributors():
    lines = (REPO / "LICENSE").read_text().splitlines()
    assert lines[0] == "MIT License"
    assert "Copyright (c) 2026 stelab contributors" in lines
