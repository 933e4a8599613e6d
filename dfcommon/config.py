"""Config loading: dataclasses with defaults, a YAML file, environment overrides, CLI flags.

Precedence: defaults < YAML file < environment (``PREFIX_SECTION_KEY``) < CLI overrides.
Unknown keys anywhere are a :class:`ConfigError` naming the key and the valid ones; a key listed in the
class's ``REMOVED_KEYS`` (accepted once, did nothing) is one that says why it went.
Fields may declare ``metadata={"parse": fn}`` to convert strings (sizes, durations).
"""
from __future__ import annotations

import dataclasses
import os
import typing

from .errors import ConfigError


def _convert(value, field: dataclasses.Field, hint, where: str):
    parse = field.metadata.get("parse") if field.metadata else None
    if parse is not None and value is not None:
        try:
            return parse(value)
        except (TypeError, ValueError, OverflowError) as e:
            raise ConfigError(f"{where}: {e}") from None
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping")
        return build(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float):
        try:
            return hint(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_hint,) = typing.get_args(hint)[:1] or (typing.Any,)
        if dataclasses.is_dataclass(item_hint):
            return [build(item_hint, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def build(cls, data: dict | None, where: str = "config"):
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # keys an older version (or Dragonfly 1.x) accepted and that did nothing: name -> why and what to do
    removed = {k.replace("_", "").lower(): v for k, v in getattr(cls, "REMOVED_KEYS", {}).items()}
    aliases = {}
    for f in fields.values():
        aliases[f.name.lower()] = f.name
        aliases[f.name.replace("_", "").lower()] = f.name
        for alias in (f.metadata or {}).get("aliases", ()):
            aliases[alias.lower()] = f.name
    kwargs = {}
    for key, value in data.items():
        name = aliases.get(str(key).replace("-", "_").lower()) or aliases.get(str(key).replace("-", "").replace("_", "").lower())
        if name is None and removed:
            gone = removed.get(str(key).replace("-", "").replace("_", "").lower())
            if gone is not None:
                raise ConfigError(f"{where}: {key!r} is no longer a setting: {gone}; remove it from the config")
        if name is None:
            valid = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key {key!r} (valid keys: {valid})")
        kwargs[name] = _convert(value, fields[name], hints[name], f"{where}.{key}")
    try:
        obj = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    # apply parsers to defaults too, so fields always hold parsed values
    for name, f in fields.items():
        if name not in kwargs and f.metadata and "parse" in f.metadata:
            val = getattr(obj, name)
            if isinstance(val, str):
                setattr(obj, name, _convert(val, f, hints[name], f"{where}.{name}"))
    return obj


def read_yaml(path: str | None) -> dict:
    if not path:
        return {}
    import yaml     # here, not at the top: dfget's start-up without a config file does not load it
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping")
    return data


def env_overrides(cls, prefix: str, environ=None) -> dict:
    """Collect ``PREFIX_KEY`` (and ``PREFIX_SECTION__KEY`` for nested sections) from the environment."""
    environ = os.environ if environ is None else environ
    out: dict = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = env_overrides(hint, f"{prefix}_{f.name.upper()}_", environ)
            if sub:
                out[f.name] = sub
            continue
        key = f"{prefix}_{f.name.upper()}" if not prefix.endswith("_") else f"{prefix}{f.name.upper()}"
        if key in environ:
            out[f.name] = environ[key]
    return out


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load(cls, path: str | None = None, env_prefix: str | None = None, overrides: dict | None = None, environ=None):
    """Defaults < YAML < environment < overrides (CLI flags, ``None`` values ignored)."""
    data = read_yaml(path)
    if env_prefix:
        data = deep_merge(data, env_overrides(cls, env_prefix, environ))
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    data = deep_merge(data, clean)
    return build(cls, data)


def as_dict(obj) -> dict:
    return dataclasses.asdict(obj)
