"""certify: a rules-as-code certification engine for local industrial policy.

Pipeline, one module per stage: load (yamlsafe, data) → validate → compile → evaluate
(normalize, evaluate; durable_adapter is the only module that imports durable-rules; reference
is the plain-Python check) → explain → report.
"""

# 0.2.0: records of format 2 carry the written threshold, the gap, attestation evidence and the
# discretionary mark, so a decision log written by 0.1.0 replays as "another engine version", not
# as a silent difference.
__version__ = "0.2.0"
ENGINE_VERSION = __version__
