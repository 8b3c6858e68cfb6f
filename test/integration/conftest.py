import pytest

from netlab import Coapd, Netns


@pytest.fixture
def ns():
    n = Netns()
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def coapd(ns):
    d = Coapd(ns)
    try:
        yield d
    finally:
        rc = d.stop()
        # Every test also checks that coapd shut down cleanly.
        assert rc == 0, f"coapd exit code {rc}\n{d.read_log()}"
