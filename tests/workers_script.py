"""A script for test_workers.py: the intermediate state bug, or (``--correct``) a locked counter."""

import sys

from workers_programs import intermediate_state, locked_counter

if "--correct" in sys.argv:
    locked_counter()
else:
    intermediate_state()
