"""Reliability harnesses of issue 14, runnable on their own (``make torture``, ``make fuzz``) and in
small versions by the suite (``tests/test_reliability_*.py``):

- ``torture``: uploads through two real ``serve`` processes on one database under a seeded
  schedule of crashes, kills, cut connections and a paused instance; ``checks`` judges the end state.
- ``fuzz``: mutated real photos (``mutate``, ``seeds``) through the real transcode in the real pool.
- ``measure``: the claim plan over a million finished jobs, and claims under a long snapshot.
"""
