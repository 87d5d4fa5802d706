"""A test explored on worker processes (``--interlace-workers N``): each worker runs the test by its id.

A worker process starts a pytest session of its own on that one test (same root directory and
configuration file, its output discarded: the coordinator reports). pytest sets up the test's
broader fixtures there as in any run; in place of the test's call, the worker runs its share of the
executions with the test's execution body (fresh function-scoped fixtures each), and the session
then tears everything down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .fixtures import execution_body, setup_broader, teardown_function_fixtures

#: set in a worker's pytest session: the interlace plugin then leaves the test to :class:`_Host`
HOSTED = pytest.StashKey[bool]()


@dataclass
class PytestTarget:
    """What travels to a worker in place of a test's execution body (see :class:`~interlace.drivers.workers.Job`)."""

    test: str  # the test's id, its file an absolute path: the worker's directory may differ
    rootdir: str
    inifile: str | None

    @classmethod
    def of(cls, item: Any) -> PytestTarget:
        config = item.config
        test = "::".join([str(item.path), *item.nodeid.split("::")[1:]])
        return cls(test, str(config.rootpath), str(config.inipath) if config.inipath else None)

    def host(self, run: Callable[[Callable[[], Any]], None]) -> None:
        """Run the test in a pytest session of this process, ``run(body)`` in place of its call."""
        args = [self.test, "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", self.rootdir]
        if self.inifile:
            args += ["-c", self.inifile]
        host = _Host(run)
        saved = os.dup(1), os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the worker's pytest says nothing: the coordinator reports
        os.dup2(devnull, 2)
        try:
            code = pytest.main(args, plugins=[host])
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)
        if host.error is not None:
            raise host.error
        if not host.ran:
            raise RuntimeError(f"the worker's pytest session did not run {self.test} (exit code {code}): it could "
                               "not collect or set it up there")


class _Host:
    """The pytest plugin of a worker's session."""

    def __init__(self, run: Callable[[Callable[[], Any]], None]) -> None:
        self.run = run
        self.ran = False
        self.error: BaseException | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[HOSTED] = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.setup = lambda: setup_broader(item)  # type: ignore[method-assign]
        item.runtest = lambda: self._call(item)  # type: ignore[method-assign]

    def _call(self, item: Any) -> None:
        self.ran = True
        try:
            self.run(execution_body(item))
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            teardown_function_fixtures(item)
