"""Each setting declared once, beside the stage that uses it: its default, its bounds and a one-line doc.

A config section is a dataclass whose fields are made with `param(...)`: the default IS the tuned
value (the shipped YAML holds only a site's choices), and `check_section` validates a section by
walking those declarations, so no bound is written twice. The way openvinotoolkit/model_api's
`Model.parameters()` keeps each parameter's default, bounds and description together.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Iterator

from .errors import ConfigError

SPEC = "signage.param"


@dataclass(frozen=True)
class Spec:
    """What a setting accepts, and what it is for."""
    doc: str
    lo: float | None = None            # at least
    hi: float | None = None            # at most
    above: float | None = None         # strictly more than
    choices: tuple | None = None
    multiple_of: int | None = None
    site: bool = False                 # a site's choice (paths, device, branding, sync): kept in the YAML
    rule: Callable[[Any], str | None] | None = None   # what is wrong with a value, or None

    def problem(self, value: Any) -> str | None:
        """Why `value` is refused, in words that follow the key's name; None when it is accepted."""
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if self.choices is not None and value not in self.choices:
            return f"{value!r} is not one of {', '.join(repr(c) if c == '' else str(c) for c in self.choices)}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.lo is not None and self.hi is not None and not self.lo <= value <= self.hi:
                return f"must be between {self.lo:g} and {self.hi:g}, got {value}"
            if self.lo is not None and value < self.lo:
                return f"must be at least {self.lo:g}, got {value}"
            if self.hi is not None and value > self.hi:
                return f"must be at most {self.hi:g}, got {value}"
            if self.above is not None and value <= self.above:
                return f"must be above {self.above:g}, got {value}"
            if self.multiple_of and value % self.multiple_of:
                return f"must be a multiple of {self.multiple_of}, got {value}"
        return self.rule(value) if self.rule else None


def param(default: Any = MISSING, doc: str = "", *, factory: Callable[[], Any] | None = None, **bounds) -> Any:
    """A dataclass field that declares a setting: `param(0.2, "why", lo=0, hi=1)`."""
    spec = Spec(doc, **bounds)
    if factory is not None:
        return field(default_factory=factory, metadata={SPEC: spec})
    return field(default=default, metadata={SPEC: spec})


def spec_of(f) -> Spec | None:
    return f.metadata.get(SPEC)


def check_section(section: Any, prefix: str = "") -> None:
    """Validate a section and the sections inside it against their declarations; then each
    section's own `check_together(prefix)` for rules that tie two keys (cutout.first_size <= size)."""
    for f in fields(section):
        value = getattr(section, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            check_section(value, f"{prefix}{f.name}.")
            continue
        spec = spec_of(f)
        why = spec.problem(value) if spec else None
        if why:
            raise ConfigError(f"config key '{prefix}{f.name}': {why}")
    together = getattr(section, "check_together", None)
    if together:
        together(prefix)


def walk(section: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any, Spec | None]]:
    """(key, value, default, spec) of every setting, sections flattened to dotted keys."""
    for f in fields(section):
        if not f.init:
            continue
        value = getattr(section, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            yield from walk(value, f"{prefix}{f.name}.")
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        yield f"{prefix}{f.name}", value, default, spec_of(f)
