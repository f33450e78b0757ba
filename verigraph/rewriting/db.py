"""The rule database: named rewrite rules with tags, their source line, and queries over them."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

# The phases, in the order they run; a rule's phase is one of its tags.
PHASES = ("merge", "constant_folding", "canonicalize", "shape", "stabilize", "specialize",
          "fusion", "inplace")


@dataclass
class Rule:
    """A named local rewrite: ``fn(fgraph, node) -> None | [(old, new), ...] | new_var``.

    ``tracks`` lists the Op classes (or instances) whose nodes the rule looks at (empty =
    every node). ``source`` is ``file:line`` of its definition, for findings and profiles.
    """

    name: str
    fn: object
    tags: tuple = ()
    tracks: tuple = ()
    source: str = ""
    doc: str = ""
    phase: str = field(default="")

    def __post_init__(self):
        phases = [t for t in self.tags if t in PHASES]
        if len(phases) != 1:
            raise ValueError(f"rule {self.name!r} needs exactly one phase tag among {PHASES}, "
                             f"got tags {self.tags}")
        self.phase = phases[0]

    def matches(self, node):
        """Whether this rule should look at ``node``."""
        if not self.tracks:
            return True
        op = node.op
        for t in self.tracks:
            if isinstance(t, type):
                if isinstance(op, t):
                    return True
            elif t == op:
                return True
        return False


class RuleDB:
    """All rules by unique name; queries select them by name or tag."""

    def __init__(self):
        self.rules = {}

    def register(self, rule):
        """Add a rule; names are unique."""
        if rule.name in self.rules:
            raise ValueError(f"a rewrite rule named {rule.name!r} already exists "
                             f"(at {self.rules[rule.name].source})")
        self.rules[rule.name] = rule
        return rule

    def node_rule(self, name, tracks=(), tags=()):
        """Decorator: register ``fn(fgraph, node)`` as rule ``name``."""
        def deco(fn):
            src = f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"
            self.register(Rule(name, fn, tuple(tags), tuple(tracks), src, (fn.__doc__ or "").strip()))
            return fn
        return deco

    def query(self, include=("default",), exclude=(), require=()):
        """Rules carrying an ``include`` tag/name and no ``exclude`` tag/name, in phase order."""
        for r in require:
            if r not in self.rules and not any(r in x.tags for x in self.rules.values()):
                raise ValueError(f"optimizer_requiring: no rewrite rule or tag named {r!r}")
        inc, exc = set(include), set(exclude)
        chosen = []
        for rule in self.rules.values():
            keys = {rule.name, *rule.tags}
            if (keys & inc or rule.name in require) and not keys & exc:
                chosen.append(rule)
        order = {p: k for k, p in enumerate(PHASES)}
        return sorted(chosen, key=lambda r: order[r.phase])

    def names(self):
        """Every rule name."""
        return sorted(self.rules)


# The one rule database (with config, the only global mutable state).
rules = RuleDB()
node_rule = rules.node_rule
