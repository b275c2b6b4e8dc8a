"""Analysis jobs and their results, shared by every API replica and worker.

``model.py`` holds what a job is; ``port.py`` the ``JobStore`` protocol (jobs, their
leases, the result cache and the worker roll-call); ``sqlite.py`` (the embedded default)
and ``redis.py`` (production) are its adapters. The task queue only carries "run job X"
messages: everything a client or an operator can see lives here.
"""
