"""``dfdaemon doctor``: checks a host's runtime configuration against its dfdaemon and the supernodes."""
from dfdaemon.doctor.findings import Finding, Target
from dfdaemon.doctor.run import run_checks

__all__ = ["Finding", "Target", "run_checks"]
