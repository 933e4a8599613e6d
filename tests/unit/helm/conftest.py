import pytest

from tests.unit.helm.chart_render import CHART_DIR


@pytest.fixture(scope="module")
def chart():
    helm = pytest.importorskip(
        "helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk; part of the test extra)")
    return helm.Chart.load(str(CHART_DIR))
