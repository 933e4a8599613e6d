"""Discrete-event simulation of a swarm driving the real scheduler (see ``python -m bench.simulate -h``)."""
from .swarm import Scenario, Swarm

__all__ = ["Scenario", "Swarm"]
