"""An example plug-in package: what a third party ships to extend the system without editing it.

Installed into the test venv by ``make test``; the contract suites pick its plug-ins up by entry point.
"""
from setuptools import setup

setup(
    name="dragonfly-example-plugins",
    version="0.1.0",
    description="Example plug-ins: a storage driver, a piece policy, a credential provider, an event sink",
    packages=["dragonfly_example_plugins"],
    python_requires=">=3.11",
    entry_points={
        "dragonfly.storage": ["flat-dir = dragonfly_example_plugins.flat_storage:create"],
        "dragonfly.policies": ["last-first = dragonfly_example_plugins.last_first:LastFirst"],
        "dragonfly.credentials": ["json-file = dragonfly_example_plugins.json_credentials:create"],
        "dragonfly.event_sinks": ["jsonl-file = dragonfly_example_plugins.jsonl_events:create"],
    },
)
