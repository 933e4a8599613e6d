"""Persistent policies and run records (SQLAlchemy Core; SQLite by default, any SQLAlchemy URL works).

The same database holds the scheduler's job table, so one file (``<home>/policies.db``) carries the whole
state of the policy subsystem across restarts.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

from sqlalchemy import (Column, Float, MetaData, String, Table, Text, create_engine, delete, event, insert,
                        select, update)
from sqlalchemy.exc import IntegrityError

from dfcommon.errors import DfError

from .models import RUN_FAILED, RUN_RUNNING, Policy, Run


def make_engine(url: str):
    """An engine for ``url``; SQLite files get their folder created, WAL journaling and a busy timeout."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folder = os.path.dirname(os.path.abspath(url[len("sqlite:///"):]))
        os.makedirs(folder, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


class PolicyStore:
    """Policies (unique names) and their runs; thread-safe, keeps the newest ``keep_runs`` runs per policy."""

    def __init__(self, engine, keep_runs: int = 100):
        self.engine = engine
        self.keep_runs = keep_runs
        self._lock = threading.Lock()
        md = MetaData()
        self.meta = Table("policy_meta", md, Column("key", String(64), primary_key=True), Column("value", Text))
        self.policies = Table("policies", md, Column("id", String(64), primary_key=True),
                              Column("name", String(128), unique=True, nullable=False),
                              Column("data", Text, nullable=False), Column("updated_at", Float))
        self.runs = Table("policy_runs", md, Column("id", String(64), primary_key=True),
                          Column("policy_id", String(64), index=True, nullable=False),
                          Column("started_at", Float, index=True), Column("status", String(16)),
                          Column("data", Text, nullable=False))
        md.create_all(engine)

    # ------------------------------------------------------------------ instance identity
    def instance_id(self) -> str:
        """A stable id of this database, created on first use (scheduled jobs refer to it)."""
        with self._lock, self.engine.begin() as conn:
            row = conn.execute(select(self.meta.c.value).where(self.meta.c.key == "instance")).first()
            if row:
                return row[0]
            value = uuid.uuid4().hex
            conn.execute(insert(self.meta).values(key="instance", value=value))
            return value

    # ------------------------------------------------------------------ policies
    def add(self, policy: Policy) -> Policy:
        try:
            with self._lock, self.engine.begin() as conn:
                conn.execute(insert(self.policies).values(id=policy.id, name=policy.name, updated_at=policy.updated_at,
                                                          data=json.dumps(policy.to_row())))
        except IntegrityError:
            raise DfError("POLICY_CONFLICT", f"a policy named {policy.name!r} already exists") from None
        return policy

    def save(self, policy: Policy) -> Policy:
        try:
            with self._lock, self.engine.begin() as conn:
                res = conn.execute(update(self.policies).where(self.policies.c.id == policy.id).values(
                    name=policy.name, updated_at=policy.updated_at, data=json.dumps(policy.to_row())))
        except IntegrityError:
            raise DfError("POLICY_CONFLICT", f"a policy named {policy.name!r} already exists") from None
        if res.rowcount == 0:
            raise DfError("NOT_FOUND", f"policy {policy.id} not found")
        return policy

    def get(self, policy_id: str) -> Policy | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.policies.c.data).where(self.policies.c.id == policy_id)).first()
        return Policy.from_row(json.loads(row[0])) if row else None

    def require(self, policy_id: str) -> Policy:
        policy = self.get(policy_id)
        if policy is None:
            raise DfError("NOT_FOUND", f"policy {policy_id} not found")
        return policy

    def list(self) -> list[Policy]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.policies.c.data).order_by(self.policies.c.name)).all()
        return [Policy.from_row(json.loads(r[0])) for r in rows]

    def delete(self, policy_id: str) -> bool:
        with self._lock, self.engine.begin() as conn:
            res = conn.execute(delete(self.policies).where(self.policies.c.id == policy_id))
            conn.execute(delete(self.runs).where(self.runs.c.policy_id == policy_id))
        return res.rowcount > 0

    # ------------------------------------------------------------------ runs
    def add_run(self, run: Run) -> Run:
        with self._lock, self.engine.begin() as conn:
            conn.execute(insert(self.runs).values(id=run.id, policy_id=run.policy_id, started_at=run.started_at,
                                                  status=run.status, data=json.dumps(vars(run))))
            self._prune(conn, run.policy_id)
        return run

    def save_run(self, run: Run) -> Run:
        with self._lock, self.engine.begin() as conn:
            conn.execute(update(self.runs).where(self.runs.c.id == run.id).values(status=run.status,
                                                                                 data=json.dumps(vars(run))))
        return run

    def get_run(self, run_id: str) -> Run | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.runs.c.data).where(self.runs.c.id == run_id)).first()
        return Run(**json.loads(row[0])) if row else None

    def list_runs(self, policy_id: str, limit: int = 100) -> list[Run]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.runs.c.data).where(self.runs.c.policy_id == policy_id)
                                .order_by(self.runs.c.started_at.desc()).limit(limit)).all()
        return [Run(**json.loads(r[0])) for r in rows]

    def fail_unfinished(self, reason: str, member: str | None = None) -> int:
        """Mark runs left ``running`` by a previous process as failed (called once at start); with ``member``
        (a cluster member on a shared database) only its own runs and runs that name no member."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.runs.c.data).where(self.runs.c.status == RUN_RUNNING)).all()
        count = 0
        for (data,) in rows:
            run = Run(**json.loads(data))
            if member is not None and run.member not in ("", member):
                continue
            run.status, run.error, run.finished_at = RUN_FAILED, reason, run.finished_at or time.time()
            self.save_run(run)
            count += 1
        return count

    def fail_orphaned(self, live_members) -> int:
        """Fail runs left ``running`` by cluster members that are gone (not in ``live_members``); runs that name
        no member, or a live one, are left to their own process."""
        live = set(live_members)
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.runs.c.data).where(self.runs.c.status == RUN_RUNNING)).all()
        count = 0
        for (data,) in rows:
            run = Run(**json.loads(data))
            if not run.member or run.member in live:
                continue
            run.status, run.finished_at = RUN_FAILED, run.finished_at or time.time()
            run.error = f"interrupted: member {run.member} left the cluster during the run"
            self.save_run(run)
            count += 1
        return count

    def _prune(self, conn, policy_id: str) -> None:
        old = conn.execute(select(self.runs.c.id).where(self.runs.c.policy_id == policy_id)
                           .order_by(self.runs.c.started_at.desc()).offset(self.keep_runs)).all()
        if old:
            conn.execute(delete(self.runs).where(self.runs.c.id.in_([r[0] for r in old])))

    def close(self) -> None:
        self.engine.dispose()
