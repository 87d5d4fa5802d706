"""Two-phase commit with a participant that presumes abort: the coordinator asks three participants
to prepare, waits for their votes and broadcasts the decision; a participant that voted yes polls
for the decision and aborts on its own once it has seen the coordinator's heartbeat unchanged for
``POLLS`` polls in a row ("the coordinator must have died"); the coordinator beats at every round of
its own polling. The coordinator commits; the participant that gave up has aborted: the outcome is split.

Witness: the coordinator sends the three prepares and polls the votes; the participants vote yes;
participant 2 polls for the decision 100 times while the coordinator does not run at all (its
heartbeat does not move), and aborts;
the coordinator then sees three yes votes and commits: participant 2 is "abort", the others "commit".
The window is deep: one thread must be kept off the processor for the whole of another's long
polling loop, after the votes and before the decision."""

import threading
import time

PARTICIPANTS = 3
POLLS = 100


class Participant:
    def __init__(self):
        self.lock = threading.Lock()
        self.prepared = False
        self.vote = None
        self.decision = None
        self.outcome = None


def program():
    parts = [Participant() for _ in range(PARTICIPANTS)]
    result = {}
    beat = [0]

    def coordinator():
        for p in parts:
            with p.lock:
                p.prepared = True
        while True:
            beat[0] += 1
            votes = []
            for p in parts:
                with p.lock:
                    votes.append(p.vote)
            if None not in votes:
                break
        decision = "commit" if all(v == "yes" for v in votes) else "abort"
        result["decision"] = decision
        for p in parts:
            with p.lock:
                p.decision = decision

    def participant(p):
        while True:
            with p.lock:
                if p.prepared:
                    p.vote = "yes"
                    break
        last, stale = beat[0], 0
        while stale < POLLS:
            with p.lock:
                if p.decision is not None:
                    p.outcome = p.decision
                    return
            stale = stale + 1 if beat[0] == last else 0
            last = beat[0]
            time.sleep(0)  # let the coordinator run
        p.outcome = "abort"  # the bug: a unilateral abort after a yes vote

    threads = [threading.Thread(target=coordinator)] + [threading.Thread(target=participant, args=(p,))
                                                        for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [p.outcome for p in parts]
    assert outcomes == [result["decision"]] * PARTICIPANTS, f"decided {result['decision']}, did {outcomes}"
