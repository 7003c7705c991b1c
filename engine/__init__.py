"""certify: a rules-as-code certification engine for local industrial policy.

Pipeline, one module per stage: load (yamlsafe, data) → validate → compile → evaluate
(normalize, evaluate; durable_adapter is the only module that imports durable-rules; reference
is the plain-Python check) → explain → report.
"""

__version__ = "0.1.0"
ENGINE_VERSION = __version__
