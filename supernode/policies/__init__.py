"""Preheat policies: filters, event and cron triggers, run records."""
from .config import PolicyConfig, validate_policies
from .events import PolicyEventRouter
from .matcher import glob_match, policy_matches, validate_glob
from .models import Policy, Run, Triggers, build_policy
from .runner import PolicyRunner
from .schedule import PolicyScheduler, run_scheduled_policy
from .service import PolicyService, policy_service_of
from .sink import PolicySink
from .store import PolicyStore, make_engine

__all__ = ["PolicyConfig", "validate_policies", "PolicyEventRouter", "glob_match", "policy_matches", "validate_glob",
           "Policy", "Run", "Triggers", "build_policy", "PolicyRunner", "PolicyScheduler", "run_scheduled_policy",
           "PolicyService", "policy_service_of", "PolicySink", "PolicyStore", "make_engine"]
