"""certify: a rules-as-code certification engine for local industrial policy.

Pipeline, one package per stage, each importing only the ones before it (README "Layout"):
load (yamlsafe, data) → validate (format2; a format-1 pack is converted on load by dialect1) →
compile (build2 → the compiled form of model2 and model) → evaluate (run2: normalize, values and
points computed in Python, every yes/no decided by durable-rules on the fact that facts writes;
durable_adapter is the only module that imports durable-rules; reference is the plain-Python
check; pipeline reads and decides a batch) → explain (explain2, whatif2) → report (format2_views,
pages2, xlsx2, score2, compact, parquet) → audit (the decision log) → commands → web.
"""

# 0.2.0: records of format 2 carry the written threshold, the gap, attestation evidence and the
# discretionary mark, so a decision log written by 0.1.0 replays as "another engine version", not
# as a silent difference.
__version__ = "0.2.0"
ENGINE_VERSION = __version__
