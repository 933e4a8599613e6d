"""Example plug-ins for the ``dragonfly.storage`` and ``dragonfly.policies`` entry-point groups."""
