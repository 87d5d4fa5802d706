"""Child interpreters: a record or a replay run in a fresh interpreter started with the right hash seed.

``PYTHONHASHSEED`` is fixed when an interpreter starts, and a replay must hash strings as the recorded
run did; so ``interlace run`` and ``interlace replay`` start a child interpreter with the recorded
seed (unless this one already has it), which runs :func:`interlace.drivers.run.record` or
:func:`interlace.drivers.run.replay` and exits with its exit code. Kept out of :mod:`interlace.drivers.run` so the
driver stays usable in-process (tests, benchmarks) without any subprocess machinery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from ..recording import RecordingError
from ..recording.program import RunError
from .run import EXIT_USAGE, hash_seed_now, record, replay

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CHILD_CODE = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
               "from interlace.drivers.child import child_main; sys.exit(child_main(sys.argv.pop(1)))")


def spawn(request: dict[str, Any], hash_seed: int) -> int:
    """Run ``request`` (see :func:`child_main`) in a child interpreter started with ``hash_seed``."""
    env = dict(os.environ)
    request = dict(request, restore_hash_seed=os.environ.get("PYTHONHASHSEED"))
    env["PYTHONHASHSEED"] = str(hash_seed)
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-c", _CHILD_CODE, _PACKAGE_ROOT, json.dumps(request)]
    child = subprocess.Popen(command, env=env)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the signal too (same process group): it decides how to end


def child_main(request_json: str) -> int:
    """Entry point of the child interpreter: one ``record`` or ``replay``."""
    request = json.loads(request_json)
    restore = request.pop("restore_hash_seed", None)
    if restore is None:
        os.environ.pop("PYTHONHASHSEED", None)
    else:
        os.environ["PYTHONHASHSEED"] = restore
    hash_seed = int(request.pop("hash_seed_expected"))
    action = request.pop("action")
    code = run_request(action, request, hash_seed)
    from ..runtime.watchdog import exit_if_threads_abandoned

    exit_if_threads_abandoned(code)
    return code


def run_request(action: str, request: dict[str, Any], hash_seed: int | None = None) -> int:
    try:
        if action == "record":
            outcome = record(hash_seed=hash_seed, **request)
        else:
            outcome = replay(hash_seed=hash_seed, **request)
    except (RunError, RecordingError) as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.flush()
    return outcome.exit_code


def run_command(action: str, request: dict[str, Any], hash_seed: int) -> int:
    """Record or replay with ``hash_seed``: here if this interpreter already has it, else in a child."""
    if hash_seed_now() == hash_seed:
        return run_request(action, request, hash_seed)
    return spawn(dict(request, action=action, hash_seed_expected=hash_seed), hash_seed)



__all__ = ["child_main", "run_command", "spawn"]
