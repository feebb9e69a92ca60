"""An inference copy of a network with every eval-mode BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is a fixed per-channel affine map, so conv → BN is one conv with scaled weights and
a bias (torch.nn.utils.fusion): the same function up to float rounding, without BatchNorm's own passes over
the activations, forward and backward. Frozen teachers run twice per transfer step (on x and on x̄, with
gradients flowing to x̄) and frozen encoders embed every image once per downstream run; their BatchNorms
were about a third of an embedding and a tenth of a transfer step. Trained networks keep their BatchNorms.

The copy is structural (`_inference_copy`), not copy.deepcopy: deepcopy walks every attribute of every
module (about 10,000 calls for a teacher of 269 modules), and folding was 18% of a `suite three --profile
smoke` (cProfile; every downstream run folds its encoder and its decoder). The structural copy clones the
tensors and copies each module's containers: folding a `small` teacher takes 17 ms instead of 82 on a
2-core CPU (bench/speed.py --only fold). It refuses a module that keeps tensors, modules or bound methods
outside its registered parameters, buffers and submodules, which only deepcopy would copy right.
"""

from __future__ import annotations

from collections import OrderedDict
from types import MethodType

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

# A module's own containers, copied with it (by exact type: these are the ones nn.Module and the layers here
# keep; a subclass such as defaultdict is refused below unless it holds only plain values).
_CONTAINERS = (dict, OrderedDict, list, set)
_NOT_PLAIN = (torch.Tensor, nn.Module, MethodType)  # what the copy would share with the original
_PLAIN = (bool, int, float, str, type(None))  # most of a module's attributes: nothing to look into
_REGISTERED = ("_parameters", "_buffers", "_modules")  # copied one by one in _inference_copy


def folded_for_inference(model: nn.Module) -> nn.Module:
    """A frozen, eval-mode copy of `model` (its own tensors and submodules) in which every Conv2d directly
    followed by a BatchNorm2d inside an nn.Sequential (as in torchvision's Conv2dNormActivation and MBConv)
    is one biased Conv2d and the BatchNorm an Identity. The model itself is left as it is (its state dict,
    its training mode)."""
    inference = _inference_copy(model).eval()
    for module in inference.modules():
        if isinstance(module, nn.Sequential):
            _fold_pairs(module)
    return inference


def _inference_copy(module: nn.Module) -> nn.Module:
    """A copy of `module` whose parameters and buffers are clones (parameters frozen) and whose containers
    (submodules, hooks, sets of names, lists) are its own; other attributes, immutable in these networks
    (sizes, flags, layer specs), are shared with the original."""
    state = dict(module.__dict__)
    for key, value in state.items():
        if key in _REGISTERED:
            continue
        if type(value) in _CONTAINERS:
            state[key] = value.copy()
        _refuse_shared(module, key, value)
    state["_parameters"] = {
        k: None if p is None else nn.Parameter(p.detach().clone(), requires_grad=False)
        for k, p in module._parameters.items()
    }
    state["_buffers"] = {k: None if b is None else b.clone() for k, b in module._buffers.items()}
    state["_modules"] = {k: None if m is None else _inference_copy(m) for k, m in module._modules.items()}
    copied = module.__class__.__new__(module.__class__)
    object.__setattr__(copied, "__dict__", state)  # not Module.__setattr__, which would file it as a value
    return copied


def _refuse_shared(module: nn.Module, key: str, value) -> None:
    """A tensor, module or bound method kept as a plain attribute (or in a plain list or dict) would be the
    original's in the copy: a forward reading it would run the unfolded network."""
    kind = type(value)
    if kind in _PLAIN or (kind in _CONTAINERS and not value) or key.endswith("hooks"):
        return  # (the hook dicts hold the caller's functions; the dicts themselves are copied)
    items = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list | set | tuple) else ()
    )
    if isinstance(value, _NOT_PLAIN) or any(isinstance(v, _NOT_PLAIN) for v in items):
        raise TypeError(
            f"cannot fold {type(module).__name__}: its attribute {key!r} holds a tensor, module or bound "
            "method outside its parameters, buffers and submodules"
        )


def _fold_pairs(sequence: nn.Sequential) -> None:
    names = list(sequence._modules)
    for first, second in zip(names, names[1:], strict=False):
        conv, norm = sequence._modules[first], sequence._modules[second]
        if not (isinstance(conv, nn.Conv2d) and type(norm) is nn.BatchNorm2d and norm.track_running_stats):
            continue
        layout = layout_of(conv.weight)
        weight, bias = fuse_conv_bn_weights(
            conv.weight, conv.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias
        )
        # conv is the copy's own, so it is changed in place
        conv.weight = nn.Parameter(weight.detach().contiguous(memory_format=layout), requires_grad=False)
        conv.bias = nn.Parameter(bias.detach(), requires_grad=False)
        sequence._modules[second] = nn.Identity()


def layout_of(t: torch.Tensor) -> torch.memory_format:
    """channels_last for a 4-d tensor stored so (and not also plainly contiguous), else contiguous."""
    channels_last = t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last and not t.is_contiguous() else torch.contiguous_format
