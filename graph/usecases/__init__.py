"""The use cases: what the API, the CLI and the workers all call, each a plain function
taking the ports it needs (the graph store, the result cache).

``analyse.produce`` computes and files one analysis answer; ``ingest.import_records``
writes a file's records in batches; ``audit_run.execute`` turns an audit's diversity
answer into a run's outcome.
"""
