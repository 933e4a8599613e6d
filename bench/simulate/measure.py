"""Deep size of an object graph (the supernode's scheduler state), counted once per object."""
from __future__ import annotations

import gc
import sys
import types

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
         types.CodeType, types.FrameType)


def deep_size(root) -> int:
    """Bytes of every object reachable from ``root`` (classes, modules and functions not counted)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total
