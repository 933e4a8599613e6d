"""``supernode policy ...``: manage preheat policies over the supernode REST API.

    supernode policy list
    supernode policy create --name nightly --registry harbor.example --repository 'library/**' --tag 'v*' \
        --cron '0 0 2 * * *' --event
    supernode policy run <id> --wait
    supernode policy runs <id>          supernode policy runs --run <run-id>

``--server`` (or ``SUPERNODE_SERVER``) is the API base URL, ``--token`` (or ``SUPERNODE_TOKEN``) a bearer
token; ``--json`` prints the raw JSON instead of tables.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests

from dfcommon.http import make_session

DEFAULT_SERVER = "http://127.0.0.1:8002"
TERMINAL = ("succeeded", "failed", "partial", "missed")


class ApiError(Exception):
    pass


class PolicyClient:
    def __init__(self, server: str, token: str | None = None, timeout=(5.0, 30.0)):
        self.base = server.rstrip("/") + "/api/v1"
        self.session = make_session(timeout=timeout, user_agent="supernode-policy-cli")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, params=None):
        try:
            resp = self.session.request(method, self.base + path, json=body, params=params)
        except requests.RequestException as e:
            raise ApiError(f"cannot reach {self.base}: {type(e).__name__}") from None
        if resp.status_code == 204:
            return None
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400:
            msg = data.get("message") if isinstance(data, dict) else resp.text[:200]
            raise ApiError(f"{resp.status_code}: {msg}")
        return data


# ---------------------------------------------------------------------- output
def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [headers, *rows]]
    return "\n".join(lines)


def _triggers(p: dict) -> str:
    t = p.get("triggers") or {}
    parts = ["manual"] + (["event"] if t.get("event") else []) + ([f"cron({t['cron']})"] if t.get("cron") else [])
    return ",".join(parts)


def policies_table(items: list[dict]) -> str:
    rows = [[p["id"], p["name"], p["registry"], p["repository"], p["tag"], _triggers(p),
             "yes" if p["enabled"] else "no", p.get("next_run_time") or "-"] for p in items]
    return _table(rows, ["ID", "NAME", "REGISTRY", "REPOSITORY", "TAG", "TRIGGERS", "ENABLED", "NEXT RUN"])


def runs_table(items: list[dict]) -> str:
    rows = [[r["id"], r["policy_name"], r["trigger"], r["status"], r["started_at"] or "-",
             "-" if r["duration"] is None else f"{r['duration']:.1f}s", len(r["images"]), r["bytes"]]
            for r in items]
    return _table(rows, ["ID", "POLICY", "TRIGGER", "STATUS", "STARTED", "DURATION", "IMAGES", "BYTES"])


def run_detail(r: dict) -> str:
    out = [runs_table([r])]
    if r.get("error"):
        out.append(f"error: {r['error']}")
    rows = []
    for img in r.get("images", []):
        rows.append([img["image"], img["status"], len(img.get("layers", [])), img.get("bytes", 0),
                     img.get("error", "")])
    if rows:
        out += ["", _table(rows, ["IMAGE", "STATUS", "LAYERS", "BYTES", "ERROR"])]
    return "\n".join(out)


# ---------------------------------------------------------------------- commands
def _policy_body(args, partial: bool) -> dict:
    body = {}
    for name in ("name", "registry", "repository", "tag", "credentials"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.platform is not None:
        body["platforms"] = [p for p in args.platform if p]
    triggers = {}
    if args.event is not None:
        triggers["event"] = args.event
    if args.cron is not None:
        triggers["cron"] = args.cron
    if triggers:
        body["triggers"] = triggers
    if args.enabled is not None:
        body["enabled"] = args.enabled
    if not partial and not body.get("name"):
        raise ApiError("--name is required")
    return body


def _wait_run(client: PolicyClient, run: dict, interval: float) -> dict:
    while run["status"] not in TERMINAL:
        time.sleep(interval)
        run = client.call("GET", f"/runs/{run['id']}")
    return run


def execute(args, client: PolicyClient, out=None) -> int:
    cmd = args.command
    if cmd == "list":
        data = client.call("GET", "/policies")
        text = policies_table(data)
    elif cmd == "get":
        data = client.call("GET", f"/policies/{args.id}")
        text = policies_table([data]) + f"\nplatforms: {', '.join(data['platforms']) or 'all'}" \
            f"\ncredentials: {data['credentials'] or '-'}"
    elif cmd == "create":
        data = client.call("POST", "/policies", _policy_body(args, partial=False))
        text = policies_table([data])
    elif cmd == "update":
        data = client.call("PATCH", f"/policies/{args.id}", _policy_body(args, partial=True))
        text = policies_table([data])
    elif cmd == "delete":
        data = client.call("DELETE", f"/policies/{args.id}")
        text = f"deleted {args.id}"
    elif cmd == "run":
        data = client.call("POST", f"/policies/{args.id}/run")
        if args.wait:
            data = _wait_run(client, data, args.interval)
        text = run_detail(data) if args.wait else f"started run {data['id']}"
    elif cmd == "runs":
        if args.run:
            data = client.call("GET", f"/runs/{args.run}")
            text = run_detail(data)
        elif args.id:
            data = client.call("GET", f"/policies/{args.id}/runs", params={"limit": args.limit})
            text = runs_table(data)
        else:
            raise ApiError("give a policy id or --run <run-id>")
    else:                                               # pragma: no cover - argparse rejects others
        raise ApiError(f"unknown command {cmd}")
    print(json.dumps(data, indent=2) if args.json and data is not None else text, file=out or sys.stdout)
    if cmd == "run" and args.wait and data["status"] != "succeeded":
        return 3
    return 0


def _bool_flags(p: argparse.ArgumentParser, name: str, dest: str, text: str) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(f"--{name}", dest=dest, action="store_const", const=True, default=None, help=text)
    g.add_argument(f"--no-{name}", dest=dest, action="store_const", const=False, help=f"not: {text}")


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", help="unique policy name")
    p.add_argument("--registry", help="registry host[:port] or http(s)://host[:port]")
    p.add_argument("--repository", help="repository glob, '*' within a segment, '**' across (default **)")
    p.add_argument("--tag", help="tag glob such as 'v*' (default **)")
    p.add_argument("--platform", action="append", help="os/arch[/variant]; repeat for several (default: all)")
    p.add_argument("--cron", help="cron schedule: 6 fields with seconds (Harbor) or 5; '' removes it")
    p.add_argument("--credentials", help="name of a credentials entry of the supernode config")
    _bool_flags(p, "event", "event", "run on push events")
    _bool_flags(p, "enabled", "enabled", "policy is active")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supernode policy", description="Manage preheat policies of a supernode.",
                                epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("SUPERNODE_SERVER", DEFAULT_SERVER),
                   help=f"supernode API URL (default $SUPERNODE_SERVER or {DEFAULT_SERVER})")
    p.add_argument("--token", default=os.environ.get("SUPERNODE_TOKEN"), help="bearer token (or $SUPERNODE_TOKEN)")
    p.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list policies")
    for name, text in (("get", "show a policy"), ("delete", "delete a policy")):
        sub.add_parser(name, help=text).add_argument("id")
    _policy_options(sub.add_parser("create", help="create a policy"))
    upd = sub.add_parser("update", help="change fields of a policy")
    upd.add_argument("id")
    _policy_options(upd)
    run = sub.add_parser("run", help="run a policy now")
    run.add_argument("id")
    run.add_argument("--wait", action="store_true", help="wait for the run to finish and show it")
    run.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    runs = sub.add_parser("runs", help="list the runs of a policy, or show one run")
    runs.add_argument("id", nargs="?")
    runs.add_argument("--run", help="show this run")
    runs.add_argument("--limit", type=int, default=20)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return execute(args, PolicyClient(args.server, args.token))
    except ApiError as e:
        print(f"supernode policy: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
