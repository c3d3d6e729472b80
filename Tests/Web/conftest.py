import pytest

from harness import Server, browser


@pytest.fixture(scope="session")
def server():
    s = Server.start()
    yield s
    s.stop()


@pytest.fixture
def driver():
    d = browser()
    yield d
    d.quit()
