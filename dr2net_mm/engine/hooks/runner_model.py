"""The model a hook works on: the runner's, unwrapped from DDP and other model wrappers."""
from mmengine.model import is_model_wrapper
from torch import nn


def runner_model(runner) -> nn.Module:
    model = runner.model
    return model.module if is_model_wrapper(model) else model
