import json
import os
import subprocess
import sys

import pytest

from tests.helpers import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class WebhookServer:
    """A webhook receiver process on a free port; ``queue_path`` is its SQLite queue file."""

    def __init__(self, home, config: dict):
        self.home = str(home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.queue_path = os.path.join(self.home, "webhooks", "queue.db")
        self.log_path = os.path.join(self.home, "server.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.webhooks.webhook_server", "--port", str(self.port),
             "--home", self.home, "--config", json.dumps(config)],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"webhook server did not start: {open(self.log_path).read()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def webhook_server_factory(tmp_path_factory):
    servers = []

    def start(config: dict):
        server = WebhookServer(tmp_path_factory.mktemp("webhooks"), config)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()
