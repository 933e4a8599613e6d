"""One download from start to finish: P2P first, the source when P2P fails, a Result either way.

Steps: check the output, register (walk the supernodes), run the pull loop into
``<workHome>/data/<taskFileName>``, verify the whole-file md5 (the user's; the supernode's
only when some piece came without its own md5 and the caller verifies no digest itself:
otherwise every byte already passed a piece md5), place the output atomically, tell the
upload server and the supernode.
Any P2P failure falls back to one direct GET of the source unless ``notbs``; a 608 from
registration never does. Temp files are removed on every exit path.
"""
from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import time

from dfcommon import piece_digest
from dfcommon.task_id import filter_url_param

from . import output as out
from .locator import Locator
from .piece_fetcher import PieceFetcher
from .piece_writer import DataFile
from .prefix_md5 import PrefixMd5
from .pull_loop import PullLoop
from .register import Registrar, RegisterFailed, host_of
from .result import NO_BACK_SOURCE_OFFSET, BackSourceReason, Cancelled, DownloadError, ErrorCode, Result
from .supernode_client import RegisterRequest, SupernodeError

log = logging.getLogger(__name__)

UNKNOWN_LENGTH_TIMEOUT = 300.0


def local_ip_for(node: str) -> str:
    """The local address used to reach ``node`` (no packet is sent)."""
    host = host_of(node)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def overall_timeout(length: int, min_rate: int) -> float:
    return length / max(min_rate, 1) + 10.0 if length and length > 0 else UNKNOWN_LENGTH_TIMEOUT


class DownloadJob:
    """State of one download; built by :class:`Downloader`, run once."""

    def __init__(self, dl, req, sign: str, progress, cancelled: threading.Event):
        self.dl, self.req, self.sign = dl, req, sign
        self.opts = dl.options
        self.progress, self.cancelled = progress, cancelled
        self.console = req.console or (lambda line: None)
        self.output = out.check_output(req.output) if req.output else None
        base = os.path.basename(self.output) if self.output else _url_name(req.url)
        self.task_file_name = f"{base}-{sign}"
        self.data_dir = os.path.join(self.opts.work_home, "data")
        self.data_path = os.path.join(self.data_dir, self.task_file_name)
        self.ip = ""
        self.cid = ""
        self.port = 0
        self.node = ""
        self.task_id = ""
        self.keep_after_stream: str | None = None
        self.limiter = dl.make_limiter(req.local_limit)
        self._last_rate = 0.0

    def _log_limit(self, res: Result) -> None:
        """One line per pull when a configured rate limit made it wait (issue: say what slows a pull)."""
        lim = self.limiter
        if lim is None or lim.waits == 0:
            return
        log.info("rate limit bound url=%s limit=%dB/s set_by=%s waited=%.3fs waits=%d bytes=%d",
                 self.req.url, lim.rate, lim.source or "unknown", lim.wait_seconds, lim.waits, lim.bytes_passed)
        record = getattr(self.dl, "record_limit_wait", None)
        if record is not None:
            record(lim.wait_seconds)

    # ---- entry --------------------------------------------------------------------------
    def run(self) -> Result:
        start = time.monotonic()
        res = Result(success=False, url=self.req.url, output=self.output)
        try:
            if self.req.pattern == "source":
                self._back_source(res, BackSourceReason.USER_SPECIFIED)
            else:
                self._p2p_or_source(res)
            res.success = True
        except DownloadError as e:
            res.code, res.message, res.status = e.code, e.message, e.status
            res.reason = e.reason if e.reason else res.reason
            self.progress.fail(e)
        except Cancelled as e:
            res.code, res.message = ErrorCode.DOWNLOAD, str(e)
            self.progress.fail(DownloadError(ErrorCode.DOWNLOAD, str(e)))
            self._cleanup_data()
        except BaseException as e:
            self.progress.fail(DownloadError(ErrorCode.DOWNLOAD, "download interrupted"))
            self._cleanup_data()
            raise e
        res.cost = time.monotonic() - start
        res.task_id, res.node = self.task_id, self.node
        self._log_limit(res)
        self._report_metrics(res)
        return res

    def _p2p_or_source(self, res: Result) -> None:
        try:
            self._p2p(res)
            return
        except RegisterFailed as e:
            res.nodes_tried = e.tried
            if e.needs_auth:
                raise DownloadError(ErrorCode.REGISTER, f"register failed: {e.message}",
                                    reason=BackSourceReason.REGISTER_FAIL) from None
            reason, code, msg = BackSourceReason.REGISTER_FAIL, ErrorCode.REGISTER, f"register failed: {e.message}"
        except DownloadError as e:
            reason, code, msg = e.reason or BackSourceReason.DOWNLOAD_ERROR, ErrorCode.DOWNLOAD, e.message
        except OSError as e:
            reason, code, msg = BackSourceReason.WRITE_ERROR, ErrorCode.DOWNLOAD, f"cannot write data: {e.strerror}"
        self._cleanup_data()
        log.warning("p2p failed url=%s reason=%d error=%s", _safe(self.req.url), reason, msg)
        if self.req.notbs or reason == BackSourceReason.NO_SPACE:
            raise DownloadError(code, msg, reason=reason + NO_BACK_SOURCE_OFFSET)
        self._back_source(res, reason)

    # ---- P2P ----------------------------------------------------------------------------
    def _register_request(self) -> RegisterRequest:
        req = self.req
        return RegisterRequest(
            raw_url=req.url, task_url=filter_url_param(req.url, req.filters), cid=self.cid, ip=self.ip,
            host_name=socket.gethostname(), port=self.port,
            path=f"/peer/file/{self.task_file_name}", version=self.dl.version,
            md5=req.md5 or "", identifier="" if req.md5 else (req.identifier or ""),
            call_system=req.call_system, headers=[f"{k}:{v}" for k, v in req.headers], dfdaemon=req.dfdaemon,
            insecure=req.insecure, root_cas=[_b64_file(p) for p in req.cacerts],
            pattern="cdn" if req.pattern == "p2p" and self.port <= 0 else req.pattern,
            upload_scheme=self.opts.served_scheme if self.port > 0 else "",
            piece_digests=piece_digest.ALGO if piece_digest.available() else "")

    def _p2p(self, res: Result) -> None:
        locator = Locator.from_strings(self.req.nodes or self.opts.nodes, self.dl.rng)
        self.ip = self.opts.ip or local_ip_for(locator.order[0])
        self.cid = f"{self.ip}-{self.sign}"
        self.console(f"sign:{self.sign}")
        if self.req.pattern == "p2p":
            self.port = self.dl.start_upload_server(self.ip, self.task_file_name)
        registrar = Registrar(self.dl.client, locator, sleep=self.dl.sleep)
        reg = registrar.register(self._register_request())
        self.node, self.task_id = reg.node, reg.task_id
        res.nodes_tried = registrar.tried
        if self.port > 0:
            self.dl.trust(reg.node)         # the upload server verifies peer tokens with the supernode's keys
        self.console(f"client:{self.ip} connected to node:{reg.node}")
        self.console("start download by dragonfly...")
        if reg.file_length >= 0:
            self.progress.expected = reg.file_length
        timeout = self.req.timeout or overall_timeout(reg.file_length, self.opts.min_rate)
        os.makedirs(self.data_dir, exist_ok=True)
        data = DataFile(self.data_path)
        data.truncate(0)
        self.progress.switch(self.data_path)
        # The whole-file md5 pass only runs when something needs it: an explicit md5 from the caller, or
        # pieces that came without their own md5 (a caller that checks a sha256 itself never needs it).
        hasher = PrefixMd5(self.progress, self.data_path) if self.req.md5 else None
        fetcher = PieceFetcher(self.dl.http, self.limiter, self.opts.min_rate, self.dl.user_agent,
                               source_headers=self.req.headers, source_verify=self._verify(),
                               peer_verify=self.dl.peer_verify, stall_timeout=self.opts.stall_timeout)
        loop = PullLoop(self.dl.client, registrar, self._register_request, reg, fetcher, data, self.progress,
                        self.cid, time.monotonic() + timeout, self.cancelled, console=self.console,
                        on_new_pieces=self._negotiate_rate, max_running=self.opts.client_queue_size,
                        rng=self.dl.rng, on_registered=lambda r: self.dl.trust(r.node) if self.port > 0 else None)
        try:
            try:
                fin = loop.run()
            finally:
                res.bytes_from.update(loop.bytes_from)
                res.pieces_checked.update(loop.checked)
                res.pieces_stalled = loop.stalled
            self.node, self.task_id = loop.reg.node, loop.reg.task_id
            if data.size() < fin.length:
                raise DownloadError(ErrorCode.DOWNLOAD, f"supernode reported the task finished with "
                                    f"{data.size()} of {fin.length} bytes written",
                                    reason=BackSourceReason.DOWNLOAD_ERROR)
            data.truncate(fin.length)
            expected = self.req.md5 or fin.md5
            check = bool(self.req.md5) or (bool(expected) and loop.unchecked_pieces > 0
                                           and not self.req.digest_verified)
            if check and hasher is None:
                hasher = PrefixMd5(self.progress, self.data_path, follow=False)
            actual = hasher.hexdigest(fin.length) if check else ""
        finally:
            if hasher is not None:
                hasher.close()
            data.close()
        if check:
            if actual != expected.lower():
                raise DownloadError(ErrorCode.DOWNLOAD, f"md5 of the P2P download is {actual}, expected {expected}",
                                    reason=BackSourceReason.MD5_NOT_MATCH)
        res.length, res.md5 = fin.length, expected or ""
        served = self.port > 0
        if self.output:
            out.place(self.data_path, self.output, f".dfget-{self.sign}.tmp-", keep_src=served)
            self.progress.finish(fin.length, self.output)
        else:
            self.progress.finish(fin.length)
            if not served:
                self.keep_after_stream = self.data_path
        if served:
            self._notify_finish()

    def _negotiate_rate(self) -> None:
        if self.port <= 0 or self.limiter is None or time.monotonic() - self._last_rate < 3.0:
            return
        self._last_rate = time.monotonic()
        granted = self.dl.upload_rate(self.port, self.task_file_name, self.limiter.rate)
        if granted and granted > 0 and granted != self.limiter.rate:
            self.limiter.set_rate(granted)

    def _notify_finish(self) -> None:
        try:
            self.dl.upload.notify_finish(self.port, self.task_file_name, self.task_id, self.cid, self.node)
        except Exception as e:      # noqa: BLE001 - the download itself succeeded
            log.warning("client finish failed file=%s error=%s", self.task_file_name, e)

    # ---- back to source -----------------------------------------------------------------
    def _back_source(self, res: Result, reason: int) -> None:
        res.reason, res.back_source = int(reason), True
        dest = os.path.dirname(self.output) if self.output else self.data_dir
        deadline = time.monotonic() + self.req.timeout if self.req.timeout else None
        from .back_source import BackSource      # requests loads only when a download goes to the source
        src = BackSource(self.dl.session, self.limiter, user_agent=self.dl.user_agent)
        path, length, digest = src.fetch(self.req.url, self.req.headers, dest, f".backsource.{self.sign}.",
                                         md5=self.req.md5, verify=self._verify(), deadline=deadline,
                                         progress=self.progress, cancelled=self.cancelled, reason=int(reason),
                                         min_rate=self.opts.min_rate)
        res.length, res.md5 = length, digest
        res.bytes_from["origin"] = length
        if self.output:
            try:
                os.replace(path, self.output)
            except OSError as e:
                out.remove(path)
                raise DownloadError(ErrorCode.DOWNLOAD, f"cannot write {self.output}: {e.strerror}",
                                    reason=int(reason)) from None
            self.progress.finish(length, self.output)
        else:
            self.progress.finish(length, path)
            self.keep_after_stream = path

    def _verify(self):
        if self.req.insecure:
            return False
        return self.dl.ca_bundle(self.req.cacerts) if self.req.cacerts else True

    # ---- reporting and cleanup ----------------------------------------------------------
    def _report_metrics(self, res: Result) -> None:
        if not self.node:
            return
        body = {"IP": self.ip, "port": self.port, "taskId": self.task_id, "cID": self.cid,
                "callSystem": self.req.call_system, "duration": round(res.cost, 3), "success": res.success,
                "backsourceReason": str(res.reason), "fileLength": res.length}
        for _ in range(2):
            try:
                self.dl.client.report_metrics(self.node, body)
                return
            except SupernodeError as e:
                log.info("task metrics report failed node=%s error=%s", self.node, e)

    def _cleanup_data(self) -> None:
        out.remove(self.data_path)

    def after_stream(self) -> None:
        """Called when a streaming consumer is done: drop files nobody else needs."""
        out.remove(self.keep_after_stream)


def _url_name(url: str) -> str:
    path = url.split("?", 1)[0].rstrip("/")
    name = path.rsplit("/", 1)[-1] if "/" in path else ""
    return name.replace(":", "_") or "download"


def _b64_file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return base64.b64encode(fh.read()).decode()
    except OSError as e:
        raise DownloadError(ErrorCode.PREPARE, f"cannot read CA certificate {path}: {e.strerror}") from None


def _safe(url: str) -> str:
    return url.split("?", 1)[0]
