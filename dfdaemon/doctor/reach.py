"""Can this host reach its supernodes and its own mirror? ``GET /_ping`` on each, short timeouts."""
from __future__ import annotations

import requests

from dfdaemon.doctor.findings import FAIL, OK, Finding
from dfcommon.http import make_session

TIMEOUT = (2.0, 3.0)


def ping(session, check: str, url: str, verify=True) -> Finding:
    try:
        reply = session.get(url, verify=verify)
    except requests.exceptions.SSLError:
        return Finding(check, FAIL, f"{url}: the TLS handshake failed (certificate or scheme)")
    except requests.Timeout:
        return Finding(check, FAIL, f"{url} did not answer within {TIMEOUT[0] + TIMEOUT[1]:g} s")
    except requests.ConnectionError:
        return Finding(check, FAIL, f"{url} cannot be reached (connection refused, no route or unknown host)")
    except requests.RequestException as e:
        return Finding(check, FAIL, f"{url} cannot be reached ({type(e).__name__})")
    if reply.status_code != 200:
        return Finding(check, FAIL, f"{url} answered {reply.status_code}")
    return Finding(check, OK, f"{url} answered 200")


def check_supernodes(nodes: list[str], scheme: str, verify=True) -> list[Finding]:
    session = make_session(timeout=TIMEOUT, retries=0)
    out = [ping(session, "supernode", f"{scheme}://{node}/_ping", verify) for node in nodes]
    if out and all(f.status == FAIL for f in out):
        out.append(Finding("supernode", FAIL, "no supernode answers: pulls through the mirror fall back to the "
                           "registry (or fail); check the dfdaemon's nodes and the network"))
    return out


def check_mirror(mirror_url: str, verify=True) -> Finding:
    finding = ping(make_session(timeout=TIMEOUT, retries=0), "mirror", f"{mirror_url}/_ping", verify)
    if finding.status == FAIL:
        return Finding("mirror", FAIL, finding.message + ": start the dfdaemon (dfdaemon --config ...)")
    return finding
