# Shared registries filled by the other rule files.
#
# ALL_TARGETS: final outputs of every track (rule all asks for them).
# NOTEBOOKS:   report pages; NOTEBOOKS[name] = {"inputs": {parameter: path}} executes
#              workflow/notebooks/{name}.ipynb with those paths as papermill parameters.

import json

ALL_TARGETS = []
NOTEBOOKS = {}
LOGS = "results/logs"


def as_json(obj):
    """A config section as one shell-quotable JSON argument (changes re-trigger the rule)."""
    return json.dumps(obj, sort_keys=True)
