"""Gradient estimators Q̂' of paper A (arXiv 2405.05171, §2, eq. 2–3): the interface
(:mod:`.base`), the estimators of the paper and its App. G (:mod:`.zoo`), user estimators named
by a dotted path (:mod:`.user`), and the registry that builds and checks them and applies one in
the backward pass (:mod:`.registry`). Import the public names from here.
"""

from .base import Estimator, ParameterRange
from .registry import REGISTRY, estimator_spec, get_estimator, parse_estimator_spec, quantize, validate_estimator
from .user import UserEstimator, is_dotted_path
from .zoo import DSQ, EDE, MAD, PWL, STE, ApproxSign, SigmoidSum, TanhFamily

__all__ = ["DSQ", "EDE", "MAD", "PWL", "REGISTRY", "STE", "ApproxSign", "Estimator", "ParameterRange",
           "SigmoidSum", "TanhFamily", "UserEstimator", "estimator_spec", "get_estimator", "is_dotted_path", "parse_estimator_spec",
           "quantize", "validate_estimator"]
