"""The optimization model: data preparation, constraint families and ``build_model``."""

from planner.model.build import FAMILIES, build_model, update_parameters
from planner.model.data import ModelData, prepare

__all__ = ["FAMILIES", "ModelData", "build_model", "prepare", "update_parameters"]
