"""Deterministic demo data in the formats the three codebases read natively.

Each task has a *pretraining* split and a *finetuning* split with different class sets, so the demo
finetunes from a checkpoint the way users finetune from a model zoo checkpoint.
"""
from .layout import DEMO_ROOT, SPLITS, DemoPaths, demo_paths
from .make import demo_data_is_current, make_demo_data

__all__ = ['DEMO_ROOT', 'SPLITS', 'DemoPaths', 'demo_data_is_current', 'demo_paths', 'make_demo_data']
