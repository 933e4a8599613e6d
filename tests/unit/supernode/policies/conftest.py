import pytest

from supernode.policies.runner import PolicyRunner
from supernode.policies.store import PolicyStore, make_engine

from .recording_preheat import RecordingPreheat


class Parts:
    def __init__(self, url, **runner_kw):
        self.url = url
        self.engine = make_engine(url)
        self.store = PolicyStore(self.engine)
        self.preheat = RecordingPreheat()
        opts = {"poll_interval": 0.02, "credentials": {"robot": {"username": "u", "password": "s3cret"}}}
        opts.update(runner_kw)
        self.runner = PolicyRunner(self.store, self.preheat, **opts)

    def close(self):
        self.runner.stop()
        self.store.close()


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path}/policies.db"


@pytest.fixture
def parts(db_url):
    p = Parts(db_url)
    yield p
    p.close()
